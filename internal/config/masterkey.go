package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/carnet-sante/carnet/internal/errs"
)

// MasterKey returns the configured master key or, when none is configured, the key in
// <data_dir>/master.key, creating that file on first use. The file holds the key in base64
// with a newline, the same form master_key_file takes, so that an operator can move it to a
// secret store unchanged. It is not cached: call it once at start-up.
func (c *Config) MasterKey() ([]byte, error) {
	if !c.masterKey.IsZero() {
		return []byte(c.masterKey.Reveal()), nil // a copy: the caller may wipe it
	}
	path := c.masterKeyPath
	key, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKeyFile(path); err != nil {
		return nil, err
	}
	// Read back rather than return what was generated: if another process won the race to
	// create the file, its key is the one.
	return readKeyFile(path)
}

// readKeyFile reads a master key file, refusing one that others may read.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, errs.Wrap(errs.Internal, err, "master key file %s", path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "master key file %s", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, errs.E(errs.Invalid, "master key file %s is not a regular file", path)
	}
	// Windows has no such mode bits; there the directory's ACL is what protects the file.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, errs.E(errs.Invalid,
			"master key file %s has mode %04o: group and others may not have any access; run chmod 600 %s",
			path, perm, path)
	}
	data, err := readLimited(path, 1024)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "master key file %s", path)
	}
	key, err := decodeKey(string(data))
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "master key file %s", path)
	}
	return key, nil
}

// createKeyFile writes a new random key to path, atomically: it is written and synced under a
// temporary name, then linked into place, so that a crash never leaves a truncated key and a
// concurrent start never replaces a key already in use (link, unlike rename, fails when the
// name exists).
func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errs.Wrap(errs.Internal, err, "create the directory of the master key")
	}
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return errs.Wrap(errs.Internal, err, "generate the master key")
	}
	f, err := os.CreateTemp(dir, ".master.key.*")
	if err != nil {
		return errs.Wrap(errs.Internal, err, "create the master key file")
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// CreateTemp already uses 0600; the Chmod states the intent and survives a change of that.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errs.Wrap(errs.Internal, err, "write the master key file")
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return errs.Wrap(errs.Internal, err, "put the master key file in place")
	}
	// Make the new name durable, not just the content.
	d, err := os.Open(dir)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "sync the directory of the master key")
	}
	defer d.Close()
	if err := d.Sync(); err != nil && runtime.GOOS != "windows" {
		return errs.Wrap(errs.Internal, err, "sync the directory of the master key")
	}
	return nil
}

// ExistingMasterKey is MasterKey for commands that must not create a key, such as
// `carnet audit verify`: with a wrong data_dir, a fresh key would make every trace look forged.
func (c *Config) ExistingMasterKey() ([]byte, error) {
	if !c.masterKey.IsZero() {
		return []byte(c.masterKey.Reveal()), nil
	}
	key, err := readKeyFile(c.masterKeyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.Invalid, "no master key at %s: is data_dir right? (or set CARNET_MASTER_KEY_FILE)", c.masterKeyPath)
	}
	return key, err
}

// PreviousMasterKeys returns the keys of previous_master_keys, in the order given: the master
// keys before the current one, that blobs may still need until they are rewrapped. They are
// copies: the caller may wipe them.
func (c *Config) PreviousMasterKeys() [][]byte {
	keys := make([][]byte, len(c.previousKeys))
	for i, k := range c.previousKeys {
		keys[i] = []byte(k.Reveal())
	}
	return keys
}

// SealKey returns the key the trace log's seals and the activation codes derive from: seal_key
// when set, else master (the master key the caller read), so that rotating the master key
// does not change them once seal_key holds the key in use before.
func (c *Config) SealKey(master []byte) []byte {
	if !c.sealKey.IsZero() {
		return []byte(c.sealKey.Reveal())
	}
	return master
}
