package fhir

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
	"github.com/carnet-sante/carnet/internal/trail"
)

// SpaceContent is everything of a patient's space that an export holds, already decided and
// traced by the services that read it.
type SpaceContent struct {
	Patient   space.Patient
	State     space.State
	Documents []record.Document
	Trail     []trail.Item
	// Profile is the medical profile's items, encoded as the profile's FHIR resources
	// (AllergyIntolerance, Condition… profile.go) with Measures, and the wishes as Consent.
	Profile  []profile.Item
	Measures *profile.Measures
	At       time.Time // when the export was made
}

// EverythingBundle writes a space as one FHIR Bundle of type collection: the Patient, a
// DocumentReference for each document, the medical profile's resources, an AuditEvent for
// each trace. attachment gives each document's content URL (in an archive, the path of its
// file next to the bundle).
func EverythingBundle(c SpaceContent, cat *terminology.Catalog, attachment func(d *record.Document) string) (r4.Bundle, error) {
	b := r4.Bundle{Type: "collection", Timestamp: r4.InstantOf(c.At.UTC())}
	pid := strconv.FormatInt(c.Patient.ID, 10)
	p := patientResource(c.Patient, c.State)
	add := func(fullURL string, res r4.Resource) error {
		e := r4.BundleEntry{FullURL: fullURL}
		if err := e.SetResource(res); err != nil {
			return err
		}
		b.Entry = append(b.Entry, e)
		return nil
	}
	if err := add("Patient/"+pid, p); err != nil {
		return r4.Bundle{}, err
	}
	for i := range c.Documents {
		d := &c.Documents[i]
		dr := documentReference(d, cat, "")
		dr.Content[0].Attachment.URL = attachment(d)
		if err := add("DocumentReference/"+d.LogicalID, dr); err != nil {
			return r4.Bundle{}, err
		}
	}
	for i := range c.Profile {
		if c.Measures == nil {
			break // no encoding of measurements without their measures
		}
		it := &c.Profile[i]
		if it.Section == profile.SectionWishes {
			if err := add("Consent/"+it.ID, encodeWish(c.Measures, it)); err != nil {
				return r4.Bundle{}, err
			}
			continue
		}
		for _, k := range profileKinds {
			if slices.Contains(k.sections, it.Section) {
				if err := add(k.name+"/"+it.ID, k.encode(c.Measures, it)); err != nil {
					return r4.Bundle{}, err
				}
				break
			}
		}
	}
	for _, it := range c.Trail {
		ev := auditEvent(it, c.Patient.ID)
		if err := add("AuditEvent/"+ev.ID, ev); err != nil {
			return r4.Bundle{}, err
		}
	}
	return b, nil
}

// patientResource writes the holder of a space: INS, names, birth date, sex, the space's state.
func patientResource(sp space.Patient, st space.State) r4.Patient {
	active := st == space.Open
	p := r4.Patient{ID: strconv.FormatInt(sp.ID, 10), Identifier: []r4.Identifier{*insIdentifier(sp.INS)}, Active: &active,
		Extension: []r4.Extension{{URL: SpaceStateExtension, ValueCode: string(st)}}}
	if sp.BirthName != "" || sp.GivenNames != "" {
		p.Name = append(p.Name, r4.HumanName{Use: "official", Family: sp.BirthName, Given: strings.Fields(sp.GivenNames)})
	}
	if sp.UsedName != "" && sp.UsedName != sp.BirthName {
		p.Name = append(p.Name, r4.HumanName{Use: "usual", Family: sp.UsedName})
	}
	if !sp.BirthDate.IsZero() {
		p.BirthDate = r4.DateOf(sp.BirthDate)
	}
	switch sp.Sex {
	case space.Female:
		p.Gender = "female"
	case space.Male:
		p.Gender = "male"
	case space.Unknown:
		p.Gender = "unknown"
	}
	return p
}

// Exporter writes a patient's whole space as an archive (internal/archive).
type Exporter interface {
	// Export decides the export for the request's actor, traces it, and writes the zip to w.
	Export(ctx context.Context, req record.Request, patientID int64, w io.Writer) error
	// Bundle is the same content as one FHIR Bundle, without the documents' bytes.
	Bundle(ctx context.Context, req record.Request, patientID int64) (r4.Bundle, error)
}

// everything serves Patient/{id}/$everything: the whole space of the patient, as a FHIR
// Bundle (the standard operation), or as the archive with every document's bytes when the
// client asks for application/zip. Only the holder (or their representative or app, within
// what they may see) and nobody else: access.ActionExport decides.
func (a *API) everything(w http.ResponseWriter, r *http.Request, req record.Request) {
	if a.d.Exporter == nil {
		a.fail(w, r, errs.E(errs.Internal, "export is not configured"))
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, errs.E(errs.NotFound, "no such patient"))
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/zip") {
		// The archive is written as it is read; an error midway truncates it, which the
		// archive's manifest (its last file) makes visible.
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := a.d.Exporter.Export(r.Context(), req, id, pw)
			pw.CloseWithError(err)
			done <- err
		}()
		// Nothing is sent before the first bytes, so that a refusal is still an answer.
		var first [1]byte
		n, rerr := io.ReadFull(pr, first[:])
		if n == 0 {
			err := <-done
			if err == nil {
				err = rerr
			}
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", `attachment; filename="mon-espace-sante.zip"`)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(first[:n])
		_, _ = io.Copy(w, pr)
		pr.Close()
		<-done
		return
	}
	b, err := a.d.Exporter.Bundle(r.Context(), req, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.write(w, http.StatusOK, b)
}
