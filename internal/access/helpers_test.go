package access_test

import (
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
)

// The cast of the tests. IdNat_PS are "8" + an RPPS.
const (
	patientID = int64(42)
	otherID   = int64(43)

	drHouse   = "810000000001" // a doctor
	drMT      = "810000000002" // the patient's médecin traitant
	drAuthor  = "810000000003" // the author of the document under test
	nurse     = "810000000004"
	pharma    = "810000000005"
	social    = "810000000006"
	regulator = "810000000007"
)

var now = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// MustMatrix returns the default matrix or stops the test.
func MustMatrix(tb testing.TB) *access.Matrix {
	tb.Helper()
	m, err := access.DefaultMatrix()
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// report is a consultation report (11488-4, class 10, Documents de santé) by drAuthor.
func report() access.Object {
	return access.Object{Class: "10", Type: "11488-4", Confidentiality: []string{"N"},
		Authors: []string{drAuthor}, DepositedBy: access.DepositedByProfessional}
}

// doc returns a document of type typeCode by drAuthor, its class left to the terminology.
func doc(typeCode string) access.Object {
	return access.Object{Type: typeCode, Authors: []string{drAuthor}, DepositedBy: access.DepositedByProfessional}
}

func patientSettings() access.Patient {
	return access.Patient{ID: patientID, MedecinsTraitants: []string{drMT}}
}

// asPatient is the patient reading a report of their record.
func asPatient(tb testing.TB) access.Input {
	return access.Input{
		Actor:   access.Actor{Kind: audit.ActorPatient, ID: "account-1", PatientID: patientID},
		Patient: patientSettings(), Action: access.ActionRead, Object: report(),
		Matrix: MustMatrix(tb), Now: now,
	}
}

// asRep is a current representative in role r of a minor patient.
func asRep(tb testing.TB, r access.Role) access.Input {
	in := asPatient(tb)
	in.Actor = access.Actor{Kind: audit.ActorRepresentative, ID: "account-2", PatientID: patientID,
		Role: r, RepresentsMinor: r == access.RoleParent, RepresentationCurrent: true}
	return in
}

// asPS is a professional of profession prof, with no relation to the patient yet, reading a
// report.
func asPS(tb testing.TB, id, prof string) access.Input {
	return access.Input{
		Actor:   access.Actor{Kind: audit.ActorProfessional, ID: id, Name: "Dr", Org: "1750000001", Profession: prof},
		Patient: patientSettings(), Action: access.ActionRead, Object: report(),
		Matrix: MustMatrix(tb), Now: now,
	}
}

// inTeam is asPS in the patient's care team.
func inTeam(tb testing.TB, id, prof string) access.Input {
	in := asPS(tb, id, prof)
	in.Relation.CareTeam = true
	in.Relation.CareTeamSince = now.AddDate(-1, 0, 0)
	return in
}

// asApp is an app the patient connected, granted reads of reports (class 10).
func asApp(tb testing.TB) access.Input {
	in := asPatient(tb)
	in.Actor = access.Actor{Kind: audit.ActorApp, ID: "app-1", PatientID: patientID,
		Scopes: []access.Action{access.ActionRead, access.ActionList, access.ActionDeposit}, Classes: []string{"10"}}
	return in
}

func asOperator(tb testing.TB) access.Input {
	in := asPatient(tb)
	in.Actor = access.Actor{Kind: audit.ActorOperator, ID: "op-1"}
	return in
}

func asJob(tb testing.TB, declared ...access.Action) access.Input {
	in := asPatient(tb)
	in.Actor = access.Actor{Kind: audit.ActorSystem, ID: "announcement", JobActions: declared}
	return in
}

// allowReasons are the reasons of allowed decisions.
var allowReasons = map[access.Reason]bool{}

func init() {
	// Reasons lists the grounds first, up to the first refusal.
	for _, r := range access.Reasons() {
		if r == access.ReasonBlocked {
			break
		}
		allowReasons[r] = true
	}
}
