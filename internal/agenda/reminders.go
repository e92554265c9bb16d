package agenda

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/space"
)

// Reminders of the national vaccination and screening calendar (data/calendar.tsv, our data
// written from the Ministry of Health's calendar and the organised screening programmes).
//
// They are computed when the agenda is read, from the person's birth date and sex, and never
// stored: for 66 million people a stored reminder per person and due date would be hundreds of
// millions of rows to write, to keep in step with each edition of the calendar and with each
// correction of an identity, for a value that a few comparisons give back in microseconds. A
// new edition of the calendar is a new file, in force at once for everyone.

//go:embed data/calendar.tsv
var calendarTSV []byte

// SourceCalendar is the source of the reminders.
const SourceCalendar = "calendar"

// Rule is one line of the calendar.
type Rule struct {
	ID, Kind       string
	Sex            space.Sex // "" for everyone
	From, To       int       // ages in months
	Every          int       // months; 0: once, at From
	Month          time.Month
	Title, TitleEN string
}

// Calendar is the calendar's rules, in the file's order.
var Calendar = mustCalendar(calendarTSV)

func mustCalendar(b []byte) []Rule {
	rs, err := ParseCalendar(b)
	if err != nil {
		panic(err)
	}
	return rs
}

// ParseCalendar reads the calendar's TSV.
func ParseCalendar(b []byte) ([]Rule, error) {
	var out []Rule
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			return nil, fmt.Errorf("calendar line %d: %d fields, not 9", n, len(f))
		}
		r := Rule{ID: f[0], Kind: f[1], Title: f[7], TitleEN: f[8]}
		var nums [4]int
		for i := range nums {
			v, err := strconv.Atoi(f[3+i])
			if err != nil || v < 0 {
				return nil, fmt.Errorf("calendar line %d: field %d is not a count", n, 4+i)
			}
			nums[i] = v
		}
		r.From, r.To, r.Every, r.Month = nums[0], nums[1], nums[2], time.Month(nums[3])
		switch f[2] {
		case "*":
		case "F", "M":
			r.Sex = space.Sex(f[2])
		default:
			return nil, fmt.Errorf("calendar line %d: sex %q", n, f[2])
		}
		switch {
		case r.ID == "" || seen[r.ID]:
			return nil, fmt.Errorf("calendar line %d: missing or repeated id %q", n, r.ID)
		case r.Kind != "vaccination" && r.Kind != "screening":
			return nil, fmt.Errorf("calendar line %d: kind %q", n, r.Kind)
		case r.To < r.From || (r.Every == 0 && r.To != r.From):
			return nil, fmt.Errorf("calendar line %d: ages %d to %d every %d", n, r.From, r.To, r.Every)
		case r.Month > 12:
			return nil, fmt.Errorf("calendar line %d: month %d", n, r.Month)
		case r.Title == "" || r.TitleEN == "":
			return nil, fmt.Errorf("calendar line %d: a title is missing", n)
		}
		seen[r.ID] = true
		out = append(out, r)
	}
	return out, sc.Err()
}

// Reminders returns the reminders due in [from, to) for a person born on birth of sex (a
// person of unknown sex gets the reminders for everyone), by date. Each is an all-day event
// at midnight UTC: the day the age is reached, or the 15th of the campaign's month in the
// year the age is reached and each year after.
func Reminders(rules []Rule, birth time.Time, sex space.Sex, from, to time.Time) []Event {
	var out []Event
	birth = midnight(birth)
	for _, r := range rules {
		if r.Sex != "" && r.Sex != sex {
			continue
		}
		for age := r.From; age <= r.To; age += max(r.Every, 1) {
			at := birth.AddDate(0, age, 0)
			if r.Month != 0 {
				at = time.Date(at.Year(), r.Month, 15, 0, 0, 0, 0, time.UTC)
				if at.Before(birth.AddDate(0, age, 0)) {
					at = at.AddDate(1, 0, 0)
				}
			}
			if !to.IsZero() && !at.Before(to) {
				break
			}
			if !from.IsZero() && at.Before(midnight(from)) {
				if r.Every == 0 {
					break
				}
				continue
			}
			out = append(out, Event{Kind: KindReminder, Start: at, Title: r.Title, Detail: r.TitleEN,
				Class: personalClass, Type: personalType, Source: SourceCalendar,
				SourceRef: r.ID + "/" + at.Format("2006-01-02"),
				CreatedBy: audit.Actor{Kind: audit.ActorSystem, ID: SourceCalendar}})
			if r.Every == 0 {
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Start.Compare(b.Start) })
	return out
}

// Timeline is List (its decision and its trace), the stays and consultations of the record
// the reader may see (derived.go: the record's search, its decision and its trace) and, for
// the patient themselves or their representative, the calendar's reminders of the period, all
// by start. Reminders are only shown to the person they are for: they are the patient's own
// page, not their record.
func (s *Service) Timeline(ctx context.Context, r Request, patientID int64, from, to time.Time) ([]Event, error) {
	return s.timeline(ctx, r, patientID, from, to, true)
}

// timeline is Timeline, with the record's stays and consultations when withCare.
func (s *Service) timeline(ctx context.Context, r Request, patientID int64, from, to time.Time, withCare bool) ([]Event, error) {
	evs, err := s.List(ctx, r, patientID, from, to)
	if err != nil {
		return nil, err
	}
	var care []Event
	if withCare {
		if care, err = s.fromDocuments(ctx, r, patientID, from, to); err != nil {
			return nil, err
		}
	}
	if len(care) > 0 {
		evs = append(evs, care...)
		slices.SortStableFunc(evs, func(a, b Event) int { return a.Start.Compare(b.Start) })
	}
	if ownOnly(r, patientID) != nil {
		return evs, nil
	}
	var p space.Patient
	if err := s.store.ViewAgenda(ctx, func(tx Tx) error {
		var err error
		p, err = tx.Patient(ctx, patientID)
		return err
	}); err != nil {
		return nil, err
	}
	// A reminder is worth showing a little before it is due and while it is recent: the
	// window asked for, bounded so that an open period does not run to 120 years.
	lo, hi := from, to
	now := s.clock.Now()
	if lo.IsZero() {
		lo = now.AddDate(-1, 0, 0)
	}
	if hi.IsZero() {
		hi = now.AddDate(1, 0, 0)
	}
	evs = append(evs, Reminders(Calendar, p.BirthDate, p.Sex, lo, hi)...)
	slices.SortStableFunc(evs, func(a, b Event) int { return a.Start.Compare(b.Start) })
	return evs, nil
}
