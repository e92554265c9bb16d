package access_test

import (
	"slices"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/space"
)

func TestTraceEntry(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      access.Input
		action  string
		outcome audit.Outcome
		reason  string
		code    access.Reason
	}{
		{"allowed", inTeam(t, drHouse, "G15_10"), "document.read", audit.Allowed, "care_team matrix=default-v1", access.ReasonCareTeam},
		{"refused after a ground", object(inTeam(t, drHouse, "G15_10"), masked(report())), "document.read", audit.Denied,
			"masked basis=care_team matrix=default-v1", access.ReasonMasked},
		{"refused without a ground", action(asPS(t, drHouse, "G15_10"), access.ActionSearch), "record.search", audit.Denied,
			"no_authorisation matrix=default-v1", access.ReasonNoAuthorisation},
		{"break-glass", breakGlass(asPS(t, drHouse, "G15_10"), "coma"), "document.read", audit.Allowed,
			"break_glass matrix=default-v1", access.ReasonBreakGlass},
		{"invalid action", action(asPatient(t), "document.burn"), "access.decide", audit.Denied,
			"invalid_request matrix=default-v1", access.ReasonInvalidRequest},
		{"no matrix", with(asPatient(t), func(in *access.Input) { in.Matrix = nil }), "document.read", audit.Denied,
			"matrix_missing", access.ReasonMatrixMissing},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := access.Decide(c.in)
			e := d.TraceEntry(c.in.Actor.Audit(), audit.ChannelFHIR, patientID, "document/abc")
			if err := e.Validate(); err != nil {
				t.Fatal(err)
			}
			if e.Action != c.action || e.Outcome != c.outcome || e.Reason != c.reason || !e.At.Equal(now) ||
				e.PatientID != patientID || e.Object != "document/abc" || e.Channel != audit.ChannelFHIR {
				t.Fatalf("entry %+v, want action %q outcome %q reason %q", e, c.action, c.outcome, c.reason)
			}
			if e.Actor != c.in.Actor.Audit() {
				t.Errorf("actor %+v", e.Actor)
			}
			if got := access.ReasonOf(e.Reason); got != c.code {
				t.Errorf("ReasonOf(%q) = %q, want %q", e.Reason, got, c.code)
			}
		})
	}
}

// TestMessages: every reason says itself in French and in English, differently for each but
// the concealed ones, which must all look alike so as to reveal nothing.
func TestMessages(t *testing.T) {
	reasons := access.Reasons()
	seen := map[string]access.Reason{}
	for _, r := range reasons {
		fr, en := r.Messages()
		if fr == "" || en == "" || fr == en {
			t.Errorf("%s: messages %q / %q", r, fr, en)
		}
		concealed := r == access.ReasonMasked || r == access.ReasonInvisibleToPatient || r == access.ReasonInvisibleToRepresentatives
		if prev, dup := seen[fr]; dup && !concealed {
			t.Errorf("%s says the same as %s: %q", r, prev, fr)
		}
		seen[fr] = r
	}
	m1, _ := access.ReasonMasked.Messages()
	m2, _ := access.ReasonInvisibleToPatient.Messages()
	m3, _ := access.ReasonInvisibleToRepresentatives.Messages()
	if m1 != m2 || m2 != m3 {
		t.Error("concealed refusals say different things")
	}
	sorted := slices.Clone(reasons)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(reasons) {
		t.Error("a reason is listed twice")
	}
	if fr, en := access.Reason("nope").Messages(); fr != "" || en != "" {
		t.Error("an unknown reason has a message")
	}
}

// TestRolesMatchSpace: access mirrors space.Role without importing space.
func TestRolesMatchSpace(t *testing.T) {
	for _, c := range [][2]string{
		{string(access.RoleParent), string(space.Parent)},
		{string(access.RoleGuardian), string(space.Guardian)},
		{string(access.RoleCurator), string(space.Curator)},
	} {
		if c[0] != c[1] {
			t.Errorf("access role %q, space role %q", c[0], c[1])
		}
	}
}
