package access_test

import (
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
)

// The patient's mailbox: the holder and the representative of a minor read and answer it;
// nobody else, not even the médecin traitant, an app the patient connected or the operator.
func TestMailboxDecisions(t *testing.T) {
	adultGuardian := asRep(t, access.RoleGuardian)
	adultGuardian.Actor.RepresentsMinor = false
	adultParent := asRep(t, access.RoleParent)
	adultParent.Actor.RepresentsMinor = false
	minorGuardian := asRep(t, access.RoleGuardian)
	minorGuardian.Actor.RepresentsMinor = true
	other := asPatient(t)
	other.Actor.PatientID = otherID
	app := asApp(t)
	app.Actor.Scopes = append(app.Actor.Scopes, access.ActionReadMail, access.ActionSendMail)
	mt := inTeam(t, drMT, "10")
	mt.Patient.MedecinsTraitants = []string{drMT}
	for _, c := range []struct {
		name    string
		in      access.Input
		allowed bool
		reason  access.Reason
	}{
		{"the patient", asPatient(t), true, access.ReasonSelf},
		{"a parent of a minor", asRep(t, access.RoleParent), true, access.ReasonRepresentative},
		{"a guardian of a minor", minorGuardian, true, access.ReasonRepresentative},
		{"a guardian of an adult", adultGuardian, false, access.ReasonRepresentationRole},
		{"a parent of an adult", adultParent, false, access.ReasonRepresentationEnded},
		{"another patient", other, false, access.ReasonNotHolder},
		{"the médecin traitant", mt, false, access.ReasonActionNotPermitted},
		{"an app", app, false, access.ReasonScope},
		{"the operator", asOperator(t), false, access.ReasonActionNotPermitted},
	} {
		for _, action := range []access.Action{access.ActionReadMail, access.ActionSendMail} {
			in := c.in
			in.Action = action
			d := access.Decide(in)
			if d.Allowed != c.allowed || d.Reason != c.reason {
				t.Errorf("%s, %s: allowed %v reason %s, want %v %s", c.name, action, d.Allowed, d.Reason, c.allowed, c.reason)
			}
		}
	}
}
