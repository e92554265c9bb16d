package cda

import (
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

func TestParseTS(t *testing.T) {
	paris := time.FixedZone("", 3600)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2021", time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"202104", time.Date(2021, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"20210409", time.Date(2021, 4, 9, 0, 0, 0, 0, time.UTC)},
		{"2021040915", time.Date(2021, 4, 9, 15, 0, 0, 0, time.UTC)},
		{"202104091535", time.Date(2021, 4, 9, 15, 35, 0, 0, time.UTC)},
		{"20210409153500", time.Date(2021, 4, 9, 15, 35, 0, 0, time.UTC)},
		{"20210409153500+0100", time.Date(2021, 4, 9, 15, 35, 0, 0, paris)},
		{"202104091535+0100", time.Date(2021, 4, 9, 15, 35, 0, 0, paris)},
		{"20210409+0100", time.Date(2021, 4, 9, 0, 0, 0, 0, paris)},
		{"20210409153500-0530", time.Date(2021, 4, 9, 15, 35, 0, 0, time.FixedZone("", -(5*3600+30*60)))},
		{"20210409153500.5", time.Date(2021, 4, 9, 15, 35, 0, 500_000_000, time.UTC)},
		{"20210409153500.1234+0200", time.Date(2021, 4, 9, 15, 35, 0, 123_400_000, time.FixedZone("", 7200))},
		{"20240229", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"20241231235959+0000", time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTS(tt.in)
			if err != nil {
				t.Fatalf("ParseTS: %v", err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			_, gotOff := got.Zone()
			_, wantOff := tt.want.Zone()
			if gotOff != wantOff {
				t.Errorf("offset %d, want %d", gotOff, wantOff)
			}
		})
	}
}

func TestParseTSRefuses(t *testing.T) {
	tests := []struct{ in, why string }{
		{"", "4-digit year"},
		{"21", "4-digit year"},
		{"2021-04-09", "+HHMM"}, // read as a year and an offset
		{"2021049", "two digits"},
		{"20210409T1535", "two digits"},
		{"20211309", "out of range"},
		{"20210009", "out of range"},
		{"20210400", "out of range"},
		{"20210431", "does not exist"},
		{"20230229", "does not exist"},
		{"20210409240000", "out of range"},
		{"20210409156000", "out of range"},
		{"20210409153560", "out of range"},
		{"20210409153500+01", "+HHMM"},
		{"20210409153500+01000", "+HHMM"},
		{"20210409153500+2400", "offset out of range"},
		{"20210409153500+0160", "offset out of range"},
		{"20210409153500Z", "unexpected character"},
		{"20210409153500 ", "unexpected character"},
		{"202104091535.5", "two digits"},
		{"20210409153500.", "digits after the dot"},
		{"20210409153500.1234567890", "at most 9 digits"},
		{"２０２１0409", "4-digit year"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseTS(tt.in)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("code %s, want invalid", errs.CodeOf(err))
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q, want it to say %q", err, tt.why)
			}
			if tt.in != "" && len(tt.in) >= 4 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q quotes the value", err)
			}
		})
	}
}
