package profile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

func scale() profile.Device {
	return profile.Device{Identifier: "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680|FE-ED-AB-EE-DE-AD-BE-EF", Manufacturer: "Acme", Model: "S-1"}
}

func pushed(kg float64, ident string) profile.Item {
	it := weight(kg, recordtest.T0.Add(-time.Minute))
	it.Identifier = ident
	return it
}

// A device pushes twice: it is created once, the second push finds it; a measurement sent
// again is stored once; every stored measurement is traced as a deposit.
func TestPush(t *testing.T) {
	e := newEnv(t)
	a := app(e.pid, []string{"11"}, access.ActionDeposit)
	first, err := e.prof.Push(ctx, a, e.pid, scale(), []profile.Item{pushed(72.4, "urn:uuid:1")})
	if err != nil || !first.DeviceCreated || first.Device.ID == "" || len(first.Items) != 1 || !first.Created[0] ||
		first.Items[0].Device != first.Device.ID || first.Device.PatientID != e.pid {
		t.Fatalf("first push: %+v %v", first, err)
	}
	second, err := e.prof.Push(ctx, a, e.pid, scale(), []profile.Item{pushed(72.4, "urn:uuid:1"), pushed(72.1, "urn:uuid:2")})
	if err != nil || second.DeviceCreated || second.Device.ID != first.Device.ID || second.Created[0] || !second.Created[1] ||
		second.Items[0].ID != first.Items[0].ID {
		t.Fatalf("second push: %+v %v", second, err)
	}
	page, err := e.prof.List(ctx, holder(e.pid), profile.Query{PatientID: e.pid, Sections: []profile.Section{profile.SectionMeasurements}})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("stored: %d %v", len(page.Items), err)
	}
	if n := strings.Count(strings.Join(e.Traces(t, e.pid), "\n"), "document.deposit allowed app"); n != 3 {
		t.Errorf("%d deposit traces, want 3", n)
	}
}

// The refusals and conflicts of a push store nothing.
func TestPushRefused(t *testing.T) {
	e := newEnv(t)
	other := e.Patient(t, recordtest.TestINS(t, 2))
	a := app(e.pid, []string{"11"}, access.ActionDeposit)
	if _, err := e.prof.Push(ctx, app(other, []string{"11"}, access.ActionDeposit), other, scale(), []profile.Item{pushed(70, "")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prof.Push(ctx, a, e.pid, scale(), []profile.Item{pushed(70, "")}); !errs.Is(err, errs.Conflict) ||
		!strings.Contains(err.Error(), "bound to another patient") {
		t.Errorf("a device of another patient: %v", err)
	}
	dev := scale()
	dev.Identifier = "urn:example|mine"
	if _, err := e.prof.Push(ctx, a, e.pid, dev, []profile.Item{pushed(70, "urn:uuid:9")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prof.Push(ctx, a, e.pid, dev, []profile.Item{pushed(71, "urn:uuid:9")}); !errs.Is(err, errs.Conflict) ||
		!strings.Contains(err.Error(), "already stored with other content") {
		t.Errorf("an identifier with other content: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit denied conflict:") {
		t.Errorf("trace of the conflict: %s", tr)
	}
	if _, err := e.prof.Push(ctx, app(e.pid, []string{"11"}, access.ActionRead), e.pid, dev, []profile.Item{pushed(70, "urn:uuid:10")}); !errs.Is(err, errs.Forbidden) {
		t.Errorf("an app without the deposit scope: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit denied scope") {
		t.Errorf("trace of the refusal: %s", tr)
	}
	for name, c := range map[string]struct {
		dev   profile.Device
		items []profile.Item
	}{
		"no device":          {profile.Device{}, []profile.Item{pushed(70, "")}},
		"no measurement":     {dev, nil},
		"implausible":        {dev, []profile.Item{pushed(900, "")}},
		"same identifier x2": {dev, []profile.Item{pushed(70, "urn:uuid:11"), pushed(71, "urn:uuid:11")}},
	} {
		if _, err := e.prof.Push(ctx, a, e.pid, c.dev, c.items); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	page, err := e.prof.List(ctx, holder(e.pid), profile.Query{PatientID: e.pid})
	if err != nil || len(page.Items) != 1 {
		t.Errorf("stored: %d %v", len(page.Items), err)
	}
}

// BenchmarkPush measures one push of a measurement by a known device, decided and traced.
func BenchmarkPush(b *testing.B) {
	e := newEnv(b)
	a := app(e.pid, []string{"11"}, access.ActionDeposit)
	for i := 0; b.Loop(); i++ {
		it := weight(60+float64(i%100)/10, recordtest.T0.Add(-time.Duration(i+1)*time.Second))
		if _, err := e.prof.Push(ctx, a, e.pid, scale(), []profile.Item{it}); err != nil {
			b.Fatal(err)
		}
	}
}
