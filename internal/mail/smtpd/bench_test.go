package smtpd_test

import (
	"fmt"
	"net/smtp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mail/relay"
)

// BenchmarkSMTPAcceptance measures what the relay listener accepts: 16 senders, each on its
// own connection over STARTTLS, send 20 KB messages to one recipient each; a message counts
// once answered 250, that is stored durably (blob written and synced, row committed, and for
// a patient traced with a notice queued). It prints messages per second and the latency
// percentiles of DATA.
//
//	go test -run '^$' -bench SMTPAcceptance -benchtime 2000x ./internal/mail/smtpd/
//	CARNET_TEST_DATABASE=postgres go test -run '^$' -bench SMTPAcceptance -benchtime 2000x ./internal/mail/smtpd/
func BenchmarkSMTPAcceptance(b *testing.B) {
	for _, to := range []string{"professional", "patient"} {
		b.Run(to, func(b *testing.B) { benchAccept(b, to == "patient") })
	}
}

func benchAccept(b *testing.B, patients bool) {
	const senders = 16
	// The outbound queue polls as in production (every second), not as fast as other tests.
	e := mailtest.New(b, mailtest.Options{Relay: func(c *relay.Config) { c.PollInterval = time.Second }})
	e.Allow(b, OtherDomain)
	rcpts := make([]string, senders)
	for i := range rcpts {
		if patients {
			_, rcpts[i] = e.Patient(b, i+1)
		} else {
			rcpts[i] = e.Professional(b, i+1, fmt.Sprintf("doc%02d", i), "DOC", fmt.Sprint(i)).Address
		}
	}
	body := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_+=*/\r\n", 20<<10/70)
	var next atomic.Int64
	lat := make([][]time.Duration, senders)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(e.Relay)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			c.Hello("bench.example")
			if err := c.StartTLS(e.ClientTLS); err != nil {
				b.Error(err)
				return
			}
			from := fmt.Sprintf("sender%d@%s", s, OtherDomain)
			for next.Add(1) <= int64(b.N) {
				msg := mailtest.Message(from, rcpts[s], "bench", body)
				t0 := time.Now()
				if _, err := send(c, from, []string{rcpts[s]}, msg); err != nil {
					b.Error(err)
					return
				}
				lat[s] = append(lat[s], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
