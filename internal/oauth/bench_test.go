package oauth_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/oauth"
)

// BenchmarkTokenClientCredentials measures the token endpoint over HTTP: client_credentials
// with client_secret_basic, each token stored and traced in its own transaction. It prints
// tokens/s; run it with -cpu 1,8 for one client and eight concurrent ones.
//
//	go test -run '^$' -bench TokenClientCredentials -benchtime 2000x ./internal/oauth/
func BenchmarkTokenClientCredentials(b *testing.B) {
	e := newEnv(b)
	_, profID := e.professional(1)
	c, secret := e.register(oauth.Client{ID: "lgc-bench", Name: "LGC", Type: oauth.Confidential,
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scope: "system/DocumentReference.cruds",
		Subject: apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: profID}})
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(c.ID, secret)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
