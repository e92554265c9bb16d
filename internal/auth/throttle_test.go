package auth

import (
	"testing"
	"time"
)

func TestPolicyDelay(t *testing.T) {
	p := Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Window: 24 * time.Hour}
	for n, want := range map[int]time.Duration{
		0: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 9: 16 * time.Second, 14: 512 * time.Second,
		15: 15 * time.Minute, 40: 15 * time.Minute, 1 << 30: 15 * time.Minute,
	} {
		if got := p.delay(n); got != want {
			t.Errorf("delay after %d failures = %v, want %v", n, got, want)
		}
	}
	for n, want := range map[int]bool{4: false, 5: true, 6: false, 10: true, 15: true} {
		if p.reportable(n) != want {
			t.Errorf("reportable(%d) = %v", n, !want)
		}
	}
}
