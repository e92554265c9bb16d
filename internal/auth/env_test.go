package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

var ctx = context.Background()

var start = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

var operator = audit.Actor{Kind: audit.ActorOperator, ID: "op-1", Name: "Admin"}

// cheapParams keep tests fast; the benchmark and the timing test use the real ones.
var cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32, MinLength: 12, MaxBytes: 1024}

const goodPassword = "correct horse battery"

// mailbox is a notify.Sender that keeps what it is given.
type mailbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (m *mailbox) Send(_ context.Context, msg notify.Message) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) to(addr string) []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []notify.Message
	for _, msg := range m.msgs {
		if msg.To == addr {
			out = append(out, msg)
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode returns the code of the last message to addr.
func (m *mailbox) lastCode(t testing.TB, addr string) string {
	t.Helper()
	msgs := m.to(addr)
	if len(msgs) == 0 {
		t.Fatalf("no message to %s", addr)
	}
	c := codeRE.FindStringSubmatch(msgs[len(msgs)-1].Text)
	if c == nil {
		t.Fatalf("no code in %q", msgs[len(msgs)-1].Text)
	}
	return c[1]
}

// syncBuffer is a log sink the service's background goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	db       *store.DB
	clock    *clock.Fake
	mail     *mailbox
	smsDir   string
	log      *syncBuffer
	reg      *prometheus.Registry
	svc      *auth.Service
	spaces   *space.Service
	accounts *account.Service
	cfg      auth.Config
}

var (
	authKey = []byte("auth-key-for-tests-32-bytes-long")
	codeKey = []byte("activation-code-key-32-bytes-abc")
)

func newEnv(t testing.TB, params password.Params, tune ...func(*auth.Config)) *env {
	t.Helper()
	e := &env{db: storetest.New(t), clock: clock.NewFake(start), mail: &mailbox{}, smsDir: filepath.Join(t.TempDir(), "sms"),
		log: &syncBuffer{}, reg: prometheus.NewRegistry()}
	var err error
	e.spaces, err = space.NewService(space.Deps{Store: e.db.Spaces(), Clock: e.clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.example", CodeKey: codeKey})
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	if e.accounts, err = account.NewService(e.db.Accounts(), e.clock, params, catalog); err != nil {
		t.Fatal(err)
	}
	sms, err := auth.NewSMSFile(e.smsDir, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = auth.DefaultConfig()
	e.cfg.ResetURL = "https://carnet.example/mot-de-passe/nouveau"
	for _, f := range tune {
		f(&e.cfg)
	}
	e.svc, err = auth.NewService(auth.Deps{Store: e.db.Auth(), Clock: e.clock, Key: authKey, CodeKey: codeKey, Password: params,
		Mail: e.mail, SMS: sms, Config: e.cfg, Log: slog.New(slog.NewTextHandler(e.log, nil)), Metrics: auth.NewMetrics(e.reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.svc.Close)
	return e
}

// testINS returns the seq-th valid test INS.
func testINS(t testing.TB, seq int) identity.INS {
	t.Helper()
	nir13 := fmt.Sprintf("2%02d%02d75%06d", 80, 5, seq)
	n, _ := strconv.ParseInt(nir13, 10, 64)
	ins, err := identity.NewINS(fmt.Sprintf("%s%02d", nir13, 97-n%97), identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// rpps returns the n-th valid test RPPS (11 digits).
func rpps(t testing.TB, n int) string {
	t.Helper()
	base := fmt.Sprintf("1999%06d", n)
	for k := 0; k <= 9; k++ {
		if r, err := identity.ParseRPPS(base + strconv.Itoa(k)); err == nil {
			return string(r)
		}
	}
	t.Fatalf("no key for RPPS %s", base)
	return ""
}

// pendingSpace creates a space by opt-out for a person nobody reaches by e-mail, and returns
// the INS and the notice's activation code.
func (e *env) pendingSpace(t testing.TB, seq int, phone string) (identity.INS, string) {
	t.Helper()
	ins := testINS(t, seq)
	birth, _ := time.Parse(space.DateLayout, "1980-05-12")
	c, err := e.spaces.Create(ctx, space.By{Actor: operator, Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{
		INS: ins, BirthName: "DUPONT", GivenNames: "Marie Louise", BirthDate: birth, Sex: space.Female, Phone: phone}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ActivationCode == "" {
		t.Fatal("no activation code for a postal notice")
	}
	return ins, c.ActivationCode
}

// patient creates an activated space with an account and returns its INS.
func (e *env) patient(t testing.TB, seq int, email, phone string) identity.INS {
	t.Helper()
	ins, code := e.pendingSpace(t, seq, phone)
	if _, err := e.svc.Activate(ctx, auth.Activation{INS: ins.Matricule, Code: code, Email: email, Password: goodPassword,
		Client: auth.Client{Addr: "192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	return ins
}

// professional creates a professional with an account and returns the RPPS.
func (e *env) professional(t testing.TB, n int, email string) string {
	t.Helper()
	r := rpps(t, n)
	idnat, err := identity.ParseIdNatPS("8" + r)
	if err != nil {
		t.Fatal(err)
	}
	by := account.By{Actor: operator, Channel: audit.ChannelCLI}
	p, err := e.accounts.CreateProfessional(ctx, by, account.Professional{IdNat: idnat, FamilyName: "Martin", GivenName: "Claire",
		Profession: "G15_10", Specialty: "SM26"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.accounts.CreateAccount(ctx, by, account.NewAccount{Kind: account.KindProfessional, Login: email,
		DisplayName: "Claire Martin", Password: goodPassword, ProfessionalID: p.ID}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) operatorAccount(t testing.TB, email string) account.Account {
	t.Helper()
	a, err := e.accounts.CreateAccount(ctx, account.By{Actor: operator, Channel: audit.ChannelCLI}, account.NewAccount{
		Kind: account.KindOperator, Login: email, DisplayName: "Opératrice", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var client = auth.Client{Addr: "198.51.100.7", UserAgent: "test/1.0"}

// signIn runs both steps with the code received by e-mail at mailTo.
func (e *env) signIn(t testing.TB, identifier, mailTo string) auth.SignedIn {
	t.Helper()
	p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: identifier, Password: goodPassword, Client: client})
	if err != nil {
		t.Fatalf("sign in as %s: %v", identifier, err)
	}
	si, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: e.mail.lastCode(t, mailTo), Client: client})
	if err != nil {
		t.Fatalf("code of %s: %v", identifier, err)
	}
	return si
}

// traces returns every trace of the log whose action starts with prefix, in order.
func (e *env) traces(t testing.TB, prefix string) []audit.Trace {
	t.Helper()
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT chain, actor_kind, actor_id, channel, action, COALESCE(patient_id, 0),
		object, outcome, reason, detail FROM traces WHERE action LIKE $1 ORDER BY id`, prefix+"%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []audit.Trace
	for rows.Next() {
		var tr audit.Trace
		en := &tr.Entry
		if err := rows.Scan(&tr.Chain, &en.Actor.Kind, &en.Actor.ID, &en.Channel, &en.Action, &en.PatientID, &en.Object,
			&en.Outcome, &en.Reason, &en.Detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, tr)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// verifyLog checks the whole trace log's chains.
func (e *env) verifyLog(t testing.TB) {
	t.Helper()
	res, err := e.db.VerifyTraces(ctx, storetest.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("trace log does not verify: %+v", res)
	}
}

func countTraces(ts []audit.Trace, action string, outcome audit.Outcome) int {
	n := 0
	for _, tr := range ts {
		if tr.Entry.Action == action && tr.Entry.Outcome == outcome {
			n++
		}
	}
	return n
}

func smsFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".sms") {
			b, err := os.ReadFile(filepath.Join(dir, en.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	return out
}
