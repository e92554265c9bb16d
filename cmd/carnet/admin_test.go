package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestSpaceAndAccountCommands(t *testing.T) {
	dir := t.TempDir()
	db := dbArgs(t, dir)
	ctx := context.Background()
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errOut := cmd("space", "create", "--ins", "279035121518989", "--birth-name", "DUPONT",
		"--given-names", "Marie Louise", "--birth-date", "1979-03-05", "--sex", "F")
	if code != 0 || !strings.Contains(out, "pending, opens on") || !strings.Contains(out, "activation code (for the postal notice): ") {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	if code, _, errOut = cmd("space", "close", "--ins", "279035121518989"); code != 1 || !strings.Contains(errOut, "only an open space can be closed") {
		t.Fatalf("close a pending space: %d %s", code, errOut)
	}
	if code, out, _ = cmd("space", "oppose", "--ins", "279035121518989"); code != 0 || !strings.Contains(out, "opposed") {
		t.Fatalf("oppose: %d %s", code, out)
	}
	if code, _, errOut = cmd("space", "create", "--ins", "279035121518988", "--birth-name", "X", "--given-names", "Y",
		"--birth-date", "1979-03-05", "--sex", "F"); code != 1 || !strings.Contains(errOut, "key") {
		t.Fatalf("create with a wrong INS key: %d %s", code, errOut)
	}
	// Refused by the service (no given name): traced, nothing created.
	if code, _, errOut = cmd("space", "create", "--ins", "184122A12345697", "--birth-name", "X", "--given-names", " ",
		"--birth-date", "1984-12-01", "--sex", "M"); code != 1 || !strings.Contains(errOut, "given name") {
		t.Fatalf("create without a given name: %d %s", code, errOut)
	}
	stdin = strings.NewReader("a long enough password\n")
	defer func() { stdin = nil }()
	if code, out, errOut = cmd("account", "add-operator", "--login", "ops@cpam.fr", "--name", "Ops"); code != 0 || !strings.Contains(out, "operator account") {
		t.Fatalf("add-operator: %d %s %s", code, out, errOut)
	}
	if code, out, errOut = cmd("account", "add-organisation", "--structure-id", "1750100125", "--name", "Hôpital"); code != 0 {
		t.Fatalf("add-organisation: %d %s %s", code, out, errOut)
	}
	if code, out, errOut = cmd("account", "add-professional", "--idnat", "810100534436", "--family-name", "Martin",
		"--given-name", "Claire", "--profession", "G15_10", "--organisation", "1750100125"); code != 0 {
		t.Fatalf("add-professional: %d %s %s", code, out, errOut)
	}
	// Every action that reached a service, the refused ones included, is in an intact trace log
	// (the mistyped INS was refused by the command itself: it names no patient): 7 traces in
	// the patient's and the operator's chains, the 2 anchors recording their creation, and the
	// 2 root entries recording the creation of those anchor chains: 11 traces in 5 chains.
	if code, out, _ = cmd("audit", "verify"); code != 0 || !strings.Contains(out, "11 traces in 5 chains") {
		t.Fatalf("verify: %d %s", code, out)
	}
}
