package fhirtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The stamp that .ci/install-test-deps writes after a successful npm ci: the SHA-256 of the
// package-lock.json it installed.
const stampName = "node_modules/.carnet-install-stamp"

// installTimeout bounds npm ci: a few seconds with a warm cache, a minute or so on a fresh
// machine.
const installTimeout = 10 * time.Minute

// validatorDir finds testdata/validator/ (testdata: the go tool never walks node_modules there) beside this file's source, or, in a binary built with
// -trimpath, from the module root above the working directory (go test runs in the package's
// directory, which is inside the module).
func validatorDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "testdata", "validator")
		if _, err := os.Stat(filepath.Join(dir, "validate.cjs")); err == nil {
			return dir, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(d, "internal", "fhir", "fhirtest", "testdata", "validator")
			if _, err := os.Stat(filepath.Join(dir, "validate.cjs")); err != nil {
				return "", fmt.Errorf("the FHIR validator is not at %s: %w", dir, err)
			}
			return dir, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("cannot find the FHIR validator: no go.mod above " + wd)
		}
	}
}

// installed reports whether node_modules matches package-lock.json.
func installed(dir string) (bool, error) {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false, fmt.Errorf("read the validator's lockfile: %w", err)
	}
	sum := sha256.Sum256(lock)
	stamp, err := os.ReadFile(filepath.Join(dir, stampName))
	if err != nil {
		return false, nil
	}
	return strings.TrimSpace(string(stamp)) == hex.EncodeToString(sum[:]), nil
}

// ensureInstalled runs .ci/install-test-deps when the validator's packages are missing or
// stale. The script takes an exclusive lock, so test binaries that start together install once.
func ensureInstalled(dir string) error {
	ok, err := installed(dir)
	if err != nil || ok {
		return err
	}
	root := filepath.Join(dir, "..", "..", "..", "..", "..") // testdata/validator in internal/fhir/fhirtest
	script := filepath.Join(root, ".ci", "install-test-deps")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("the FHIR validator's packages are missing and %s cannot be found: %w", script, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		text := out.String()
		if len(text) > 3000 {
			text = "…" + text[len(text)-3000:]
		}
		return fmt.Errorf("installing the FHIR validator's npm packages failed (%v); run .ci/install-test-deps by hand to see why. Output:\n%s", err, text)
	}
	if ok, err := installed(dir); err != nil || !ok {
		return fmt.Errorf("installing the FHIR validator's npm packages left no valid stamp (%v)", err)
	}
	return nil
}
