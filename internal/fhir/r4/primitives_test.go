package r4_test

import (
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

func TestDatePrimitives(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	for _, tt := range []struct {
		in    string
		date  bool
		dt    bool
		inst  bool
		start time.Time // of the dateTime, read in Paris
	}{
		{"2024", true, true, false, time.Date(2024, 1, 1, 0, 0, 0, 0, paris)},
		{"2024-02", true, true, false, time.Date(2024, 2, 1, 0, 0, 0, 0, paris)},
		{"2024-02-29", true, true, false, time.Date(2024, 2, 29, 0, 0, 0, 0, paris)},
		{"2023-02-29", false, false, false, time.Time{}},
		{"2024-02-29T23:59:60Z", false, true, true, time.Time{}}, // leap second: valid FHIR, not a Go time
		{"2025-03-12T10:15:00+01:00", false, true, true, time.Date(2025, 3, 12, 9, 15, 0, 0, time.UTC)},
		{"2025-03-12T10:15:00.250Z", false, true, true, time.Date(2025, 3, 12, 10, 15, 0, 250e6, time.UTC)},
		{"2025-03-12T10:15+01:00", false, false, false, time.Time{}},
		{"2025-03-12T10:15:00", false, false, false, time.Time{}},
		{"2025-3-12", false, false, false, time.Time{}},
		{"0000", false, false, false, time.Time{}},
		{"", false, false, false, time.Time{}},
	} {
		if got := r4.Date(tt.in).Valid(); got != tt.date {
			t.Errorf("Date(%q).Valid() = %v", tt.in, got)
		}
		if got := r4.DateTime(tt.in).Valid(); got != tt.dt {
			t.Errorf("DateTime(%q).Valid() = %v", tt.in, got)
		}
		if got := r4.Instant(tt.in).Valid(); got != tt.inst {
			t.Errorf("Instant(%q).Valid() = %v", tt.in, got)
		}
		if !tt.start.IsZero() {
			got, err := r4.DateTime(tt.in).Time(paris)
			if err != nil || !got.Equal(tt.start) {
				t.Errorf("DateTime(%q).Time = %v, %v; want %v", tt.in, got, err, tt.start)
			}
		}
	}

	at := time.Date(2025, 3, 12, 10, 15, 0, 123_000_000, paris)
	if got := r4.InstantOf(at); got != "2025-03-12T10:15:00.123+01:00" || !got.Valid() {
		t.Errorf("InstantOf = %s", got)
	}
	if got := r4.DateOf(at); got != "2025-03-12" {
		t.Errorf("DateOf = %s", got)
	}
	back, err := r4.InstantOf(at).Time()
	if err != nil || !back.Equal(at) {
		t.Errorf("instant round trip: %v %v", back, err)
	}
}
