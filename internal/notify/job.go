package notify

// Job asks the job queue to send Message. Queued in the transaction of the change it tells
// about, so the notice exists if and only if the change committed; the worker retries on a
// temporary failure (errs.Unavailable) and gives up on a permanent one. The message ID makes
// a retried send idempotent in the outbox.
type Job struct {
	Message Message `json:"message"`
}

// Kind names the job for the queue.
func (Job) Kind() string { return "notify.send" }
