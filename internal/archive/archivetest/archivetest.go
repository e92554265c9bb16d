// Package archivetest builds the archive service over a recordtest environment, for the tests
// of the packages that export or import spaces.
package archivetest

import (
	"bytes"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/trail"
)

// New returns the archive service of e, and the trail service it reads. Each option may
// change the service's dependencies before it is built (add a mailbox).
func New(tb testing.TB, e *recordtest.Env, opts ...func(*archive.Deps)) (*archive.Service, *trail.Service) {
	tb.Helper()
	m, err := access.DefaultMatrix()
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := trail.NewService(e.DB.Trail(), e.Access, m)
	if err != nil {
		tb.Fatal(err)
	}
	codeKey, err := space.CodeKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	spaces, err := space.NewService(space.Deps{Store: e.DB.Spaces(), Clock: e.Clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.test", CodeKey: codeKey})
	if err != nil {
		tb.Fatal(err)
	}
	ag, err := agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: e.Access, Clock: e.Clock})
	if err != nil {
		tb.Fatal(err)
	}
	medical, err := profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock})
	if err != nil {
		tb.Fatal(err)
	}
	cards, err := emergency.NewService(e.DB.Emergency(), e.Access, medical, e.Clock)
	if err != nil {
		tb.Fatal(err)
	}
	d := archive.Deps{Records: e.Records, Trail: tr, Spaces: spaces, Catalog: e.Catalog, Clock: e.Clock, Agenda: ag, Profile: medical,
		Access: e.Access, Emergency: cards}
	for _, o := range opts {
		o(&d)
	}
	a, err := archive.NewService(d)
	if err != nil {
		tb.Fatal(err)
	}
	return a, tr
}
