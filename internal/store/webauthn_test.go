package store_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// TestPasskeyStore checks the credentials' table on the engine under test: every field
// round-trips, an id is registered once across accounts (and a clash leaves the transaction
// usable), an account reaches only its own credentials.
func TestPasskeyStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	ms, err := store.Migrations(db.Dialect())
	if err != nil || !slices.ContainsFunc(ms, func(m store.Migration) bool { return strings.HasSuffix(m.Name, "_webauthn") }) {
		t.Fatalf("no webauthn migration: %v", err)
	}
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	pid := insertPatient(t, db, 11)
	var marie, paul account.Account
	err = db.Update(ctx, func(tx *store.Tx) error {
		marie = account.Account{Kind: account.KindPatient, Login: "marie@example.fr", DisplayName: "M", PatientID: pid, CreatedAt: now, PasswordHash: "h"}
		paul = account.Account{Kind: account.KindOperator, Login: "paul@example.fr", DisplayName: "P", CreatedAt: now, PasswordHash: "h"}
		if err := tx.InsertAccount(ctx, &marie); err != nil {
			return err
		}
		return tx.InsertAccount(ctx, &paul)
	})
	if err != nil {
		t.Fatal(err)
	}
	handle := bytes.Repeat([]byte{0xfe}, 32)
	k1 := auth.Passkey{ID: "Y3JlZGVudGlhbC0x", AccountID: marie.ID, Name: "Téléphone de Marie", UserHandle: handle,
		PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01}, SignCount: 4294967295, Transports: []string{"internal", "hybrid"},
		AAGUID: []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}, Flags: 0x1d,
		AttestationFormat: "none", CreatedAt: now}
	k2 := auth.Passkey{ID: "Y3JlZGVudGlhbC0y", AccountID: marie.ID, Name: "Clé USB", UserHandle: handle, PublicKey: []byte{1},
		AAGUID: make([]byte, 16), Flags: 0x05, AttestationFormat: "none", CreatedAt: now.Add(time.Hour)}

	err = db.Update(ctx, func(tx *store.Tx) error {
		for _, k := range []auth.Passkey{k2, k1} {
			if err := tx.InsertPasskey(ctx, k); err != nil {
				return err
			}
		}
		// The same id for another account: a conflict, and the transaction goes on.
		clash := k1
		clash.AccountID = paul.ID
		if err := tx.InsertPasskey(ctx, clash); !errs.Is(err, errs.Conflict) {
			t.Fatalf("an id registered twice: %v", err)
		}
		keys, err := tx.Passkeys(ctx, paul.ID)
		if err != nil || len(keys) != 0 {
			t.Fatalf("Paul's passkeys after the clash: %+v, %v", keys, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var keys []auth.Passkey
	if err := db.View(ctx, func(tx *store.Tx) error { var err error; keys, err = tx.Passkeys(ctx, marie.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != k1.ID || keys[1].ID != k2.ID {
		t.Fatalf("not oldest first: %+v", keys)
	}
	got := keys[0]
	if got.AccountID != marie.ID || got.Name != k1.Name || !bytes.Equal(got.UserHandle, handle) || !bytes.Equal(got.PublicKey, k1.PublicKey) ||
		got.SignCount != k1.SignCount || !slices.Equal(got.Transports, k1.Transports) || !bytes.Equal(got.AAGUID, k1.AAGUID) ||
		got.Flags != k1.Flags || got.AttestationFormat != "none" || !got.CreatedAt.Equal(now) || !got.LastUsedAt.IsZero() {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, k1)
	}
	if keys[1].Transports != nil {
		t.Fatalf("no transports read as %q", keys[1].Transports)
	}

	used := now.Add(2 * time.Hour)
	err = db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.UsePasskey(ctx, paul.ID, k1.ID, 9, 0x05, used); !errs.Is(err, errs.NotFound) {
			t.Fatalf("someone else's passkey used: %v", err)
		}
		if err := tx.UsePasskey(ctx, marie.ID, k2.ID, 7, 0x1d, used); err != nil {
			return err
		}
		if err := tx.DeletePasskey(ctx, paul.ID, k1.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("someone else's passkey deleted: %v", err)
		}
		return tx.DeletePasskey(ctx, marie.ID, k1.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(ctx, func(tx *store.Tx) error { var err error; keys, err = tx.Passkeys(ctx, marie.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != k2.ID || keys[0].SignCount != 7 || keys[0].Flags != 0x1d || !keys[0].LastUsedAt.Equal(used) {
		t.Fatalf("after use and deletion: %+v", keys)
	}
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.DeletePasskey(ctx, marie.ID, k1.ID) }); !errs.Is(err, errs.NotFound) {
		t.Fatalf("deleted twice: %v", err)
	}
}
