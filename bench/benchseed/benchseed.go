// Package benchseed fills a carnet store for the whole-system benchmarks and the crash test:
// patients with open spaces, a professional and their API token, and synthetic documents
// inserted directly, in large transactions, so that a store of a million documents is built
// in minutes rather than the hours a million ITI-65 deposits would take.
//
// What it writes goes through the store's own Tx methods (the same SQL as the server's), but
// not through the record service: each patient's space creation is traced, so that
// `carnet audit verify` passes on a seeded store, while the synthetic documents carry no
// deposit trace, no care team entry and no notice job, and their blob ids name no blob. That
// is what a benchmark store needs (searches read metadata only) and nothing more: never seed a
// store that holds real data.
package benchseed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Open opens the store cfg names, as `carnet serve` does (the master key from the
// configuration, or generated into the data directory), and creates the schema of a brand-new
// database. A database whose schema is behind is refused, as the server refuses it.
func Open(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	master, err := cfg.MasterKey()
	if err != nil {
		return nil, err
	}
	trace, err := audit.DeriveKey(master)
	if err != nil {
		return nil, err
	}
	dialect := store.SQLite
	if cfg.DB.Driver == config.DriverPostgres {
		dialect = store.Postgres
	}
	db, err := store.Open(ctx, dialect, cfg.DB.DSN, store.Options{TraceKey: trace})
	if err != nil {
		return nil, err
	}
	if err := Prepare(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Prepare migrates a brand-new database (carnet's schema and the job queue's) and checks that
// an existing one is current, then loads the document types, as cmd/carnet's prepareSchema.
func Prepare(ctx context.Context, db *store.DB) error {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v.Current == 0 {
		if _, err := db.Migrate(ctx, time.Now()); err != nil {
			return err
		}
		if _, err := jobs.Migrate(ctx, db); err != nil {
			return err
		}
	}
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	if err := jobs.CheckSchema(ctx, db); err != nil {
		return err
	}
	catalog, err := terminology.Default()
	if err != nil {
		return err
	}
	return db.Update(ctx, func(tx *store.Tx) error { return tx.SyncDocumentTypes(ctx, catalog.Types()) })
}

// TestINS returns synthetic INS number seq (0 ≤ seq < 288,000,000): a NIR of the test
// identifier system, born in Paris, with its key. Distinct seq give distinct INS.
func TestINS(seq int) (identity.INS, error) {
	if seq < 0 || seq >= 24*12*1_000_000 {
		return identity.INS{}, fmt.Errorf("test INS %d out of range", seq)
	}
	block := seq / 1_000_000
	nir13 := fmt.Sprintf("2%02d%02d75%06d", 70+block/12, 1+block%12, seq%1_000_000)
	key, err := identity.INSKey(nir13)
	if err != nil {
		return identity.INS{}, err
	}
	return identity.NewINS(nir13+key, identity.OIDTestNIR)
}

// Patient is a seeded patient.
type Patient struct {
	ID  int64
	INS identity.INS
}

// operator is who the seed's traces name.
var operator = audit.Actor{Kind: audit.ActorOperator, ID: "bench", Name: "benchseed"}

// Patients creates patients first … first+n-1 (TestINS numbers), each with an e-mail address
// (so that deposits send their notices, as for most people), an open space and the trace of
// its creation, batch per transaction. Two calls must not run at once on PostgreSQL: see the
// note on anchor chains in bench/README.md. progress, when not nil, is called after
// each batch with the number created so far.
func Patients(ctx context.Context, db *store.DB, first, n, batch int, now time.Time, progress func(int)) ([]Patient, error) {
	if batch < 1 {
		batch = 1000
	}
	out := make([]Patient, 0, n)
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var made []Patient
		err := db.Update(ctx, func(tx *store.Tx) error {
			made = made[:0]
			for i := start; i < end; i++ {
				ins, err := TestINS(first + i)
				if err != nil {
					return err
				}
				p := space.Patient{INS: ins, BirthName: "BENCH", GivenNames: "Camille",
					BirthDate: time.Date(1970+i%50, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC),
					Sex:       space.Female, CreatedAt: now}
				if err := tx.InsertPatient(ctx, &p); err != nil {
					return fmt.Errorf("patient %d: %w", first+i, err)
				}
				sp := space.New(p.ID, now, space.DefaultPolicy())
				sp.State, sp.OpenedAt, sp.OpensAt = space.Open, now, time.Time{}
				if err := tx.InsertSpace(ctx, sp, ""); err != nil {
					return err
				}
				if _, err := tx.AppendTrace(ctx, audit.Entry{At: now, Actor: operator, Channel: audit.ChannelCLI,
					Action: "space.create", PatientID: p.ID, Object: "space", Outcome: audit.Allowed, Detail: "benchseed: open"}); err != nil {
					return err
				}
				made = append(made, Patient{ID: p.ID, INS: ins})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, made...)
		if progress != nil {
			progress(len(out))
		}
	}
	return out, nil
}

// IdNat returns the IdNat_PS ("8" + RPPS) of synthetic professional n, with its Luhn key.
func IdNat(n int) (string, error) {
	base := fmt.Sprintf("1999%06d", n)
	for k := 0; k <= 9; k++ {
		if id, err := identity.ParseIdNatPS("8" + base + strconv.Itoa(k)); err == nil {
			return id.String(), nil
		}
	}
	return "", fmt.Errorf("no key for RPPS %s", base)
}

// Professional records synthetic professional n (a general practitioner), or returns them if
// they are there already.
func Professional(ctx context.Context, db *store.DB, n int, now time.Time) (account.Professional, error) {
	idnat, err := IdNat(n)
	if err != nil {
		return account.Professional{}, err
	}
	id, err := identity.ParseIdNatPS(idnat)
	if err != nil {
		return account.Professional{}, err
	}
	var p account.Professional
	err = db.Update(ctx, func(tx *store.Tx) error {
		if p, err = tx.ProfessionalByIdNat(ctx, id.String()); err == nil {
			return nil
		}
		p = account.Professional{IdNat: id, FamilyName: "BENCH", GivenName: "Dominique", Profession: "G15_10",
			Specialty: "SM54", CreatedAt: now}
		return tx.InsertProfessional(ctx, &p)
	})
	return p, err
}

// Token issues a bearer token for the professional, valid for ttl, as `carnet account token`
// does (traced in the operator's chain).
func Token(ctx context.Context, db *store.DB, p account.Professional, ttl time.Duration) (string, error) {
	secret, _, err := apitoken.NewService(db.Tokens(), clock.System{}).Issue(ctx, operator, audit.ChannelCLI,
		apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: p.ID}, "benchseed", ttl)
	return secret, err
}

// JoinCareTeam puts the professional in the patient's care team, as a deposit of theirs would
// have (with its trace), so that they may search a record filled by Documents.
func JoinCareTeam(ctx context.Context, db *store.DB, patientID int64, idnat string, now time.Time) error {
	return db.Update(ctx, func(tx *store.Tx) error {
		added, err := tx.AddCareTeamMember(ctx, patientID, access.CareTeamMember{IdNat: idnat, Since: now, Basis: access.CareDeposit})
		if err != nil || !added {
			return err
		}
		_, err = tx.AppendTrace(ctx, audit.Entry{At: now, Actor: operator, Channel: audit.ChannelCLI,
			Action: access.TraceCareTeamAdd, PatientID: patientID, Object: "professional/" + idnat, Outcome: audit.Allowed,
			Detail: "benchseed: basis=deposit"})
		return err
	})
}

// DocSpec says which synthetic documents Documents inserts.
type DocSpec struct {
	Count int
	// Patient returns the patient of document i.
	Patient func(i int) Patient
	Author  string // IdNat_PS of the depositor and author
	Now     time.Time
	// Spread is how far back creation times go (uniformly); default a year and a half, inside
	// the first listing's two years.
	Spread  time.Duration
	Batch   int // rows per transaction, default 1000
	Workers int // transactions at once (PostgreSQL: several; SQLite has one writer anyway)
	// Progress, when not nil, is called after each batch with the documents inserted so far.
	Progress func(int)
}

// The types the synthetic documents are drawn from: common ones, each readable by a general
// practitioner under the default habilitation matrix.
var docTypes = []string{"11488-4", "11490-0", "34112-3", "PRESC-BIO", "SYNTH", "11369-6"}

// Documents inserts spec.Count synthetic document rows (metadata only: their blob ids name no
// blob) with tx.InsertDocument, spec.Batch per transaction.
func Documents(ctx context.Context, db *store.DB, spec DocSpec) error {
	if spec.Batch < 1 {
		spec.Batch = 1000
	}
	if spec.Workers < 1 {
		spec.Workers = 1
	}
	if db.Dialect() == store.SQLite {
		// The rows land at random places of two indexes keyed by random UUIDs: with SQLite's
		// default page cache (2 MB) a batch spills dirty pages to the WAL before its commit and
		// reads pages back with a syscall each. A larger cache on the one writer connection
		// (one connection: the pragma stays with it) keeps a batch in memory. The server runs
		// with SQLite's defaults.
		if _, err := db.SQL().ExecContext(ctx, `PRAGMA cache_size = -1048576`); err != nil {
			return fmt.Errorf("enlarge the SQLite writer's page cache: %w", err)
		}
	}
	if spec.Spread <= 0 {
		spec.Spread = 547 * 24 * time.Hour
	}
	cat, err := terminology.Default()
	if err != nil {
		return err
	}
	types := make([]terminology.TypeCode, len(docTypes))
	for i, c := range docTypes {
		if types[i], err = cat.Type(c); err != nil {
			return err
		}
	}
	batches := make(chan [2]int)
	errc := make(chan error, spec.Workers)
	done := make(chan int, spec.Workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < spec.Workers; w++ {
		go func() {
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for b := range batches {
				docs := make([]record.Document, 0, b[1]-b[0])
				for i := b[0]; i < b[1]; i++ {
					docs = append(docs, synthetic(rng, spec, types[rng.IntN(len(types))], i))
				}
				err := db.Update(ctx, func(tx *store.Tx) error {
					for j := range docs {
						if err := tx.InsertDocument(ctx, &docs[j]); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errc <- err
					cancel()
					return
				}
				done <- len(docs)
			}
			errc <- nil
		}()
	}
	go func() {
		defer close(batches)
		for start := 0; start < spec.Count; start += spec.Batch {
			select {
			case batches <- [2]int{start, min(start+spec.Batch, spec.Count)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var firstErr error
	total := 0
	for running := spec.Workers; running > 0; {
		select {
		case n := <-done:
			total += n
			if spec.Progress != nil {
				spec.Progress(total)
			}
		case err := <-errc:
			running--
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

// synthetic returns document i of spec.
func synthetic(rng *rand.Rand, spec DocSpec, t terminology.TypeCode, i int) record.Document {
	p := spec.Patient(i)
	created := spec.Now.Add(-time.Duration(rng.Int64N(int64(spec.Spread)))).Truncate(time.Second).UTC()
	logical, entry := uuid(rng), uuid(rng)
	var h [32]byte
	for k := 0; k < 32; k += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			h[k+j] = byte(v >> (8 * j))
		}
	}
	hexs := fmt.Sprintf("%x", h[:])
	size := int64(20_000 + rng.IntN(200_000))
	return record.Document{
		PatientID: p.ID, INS: p.INS, UniqueID: "2.25." + strconv.FormatUint(rng.Uint64(), 10) + strconv.Itoa(i),
		LogicalID: logical, EntryUUID: entry, Version: 1, Status: record.Approved,
		Title: fmt.Sprintf("%s %d", t.Label, i), Language: "fr-FR",
		Class: t.Class, Type: t.Code, TypeSystem: t.System, Space: t.Space,
		Format:          record.Code{Code: "urn:ihe:iti:xds:2017:mimeTypeSufficient", System: "1.3.6.1.4.1.19376.1.2.3"},
		MimeType:        "application/pdf",
		Confidentiality: []record.Code{{Code: "N", System: record.ConfidentialitySystem, Display: "Normal"}},
		Authors:         []record.Author{{Kind: record.AuthorProfessional, ID: spec.Author, Name: "Dominique BENCH", Profession: "G15_10"}},
		Created:         created, ServiceStart: created.Add(-2 * time.Hour), Submitted: created, Updated: created,
		DepositedBy: access.DepositedByProfessional, Depositor: spec.Author,
		BlobID: "bench" + hexs[:27], Size: size, SHA256: hexs, SHA1: hexs[:40],
	}
}

func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	a = a&^(0xf<<12) | 0x4<<12
	b = b&^(0x3<<62) | 0x2<<62
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}
