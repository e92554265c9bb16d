package auth_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/password"
)

// BenchmarkCheckPassword measures credential checks per second at the default argon2id
// parameters (m=19 MiB, t=2, p=1: password.DefaultParams, the OWASP minimum for argon2id),
// on every core: the hash alone, and a whole refused sign-in (rate-limit keys counted,
// account looked up, hash verified, failure traced) on the real store.
//
//	go test ./internal/auth -run '^$' -bench CheckPassword -benchtime 200x
//	CARNET_TEST_DATABASE=postgres go test ./internal/auth -run '^$' -bench CheckPassword -benchtime 200x
func BenchmarkCheckPassword(b *testing.B) {
	params := password.DefaultParams()
	hash, err := password.Hash(goodPassword, params)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("argon2id", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, _, err := params.Verify("not the password", hash); ok || err != nil {
					b.Fatal("verify")
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
	b.Run("signin", func(b *testing.B) {
		e := newEnv(b, params, func(c *auth.Config) { c.Identifier.Free, c.Address.Free = 1<<30, 1<<30 })
		e.operatorAccount(b, "ops@carnet.example")
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				who := "ops@carnet.example"
				if i%2 == 0 {
					who = fmt.Sprintf("nobody%d@example.fr", i)
				}
				_, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: who, Password: "not the password",
					Client: auth.Client{Addr: fmt.Sprintf("192.0.2.%d", i%250)}})
				if _, throttled := auth.RetryAfter(err); err == nil || throttled {
					b.Fatalf("sign-in %d: %v", i, err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
}
