package licensecore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Distinctive values, so a search of the raw store files cannot hit them by
// chance.
const (
	canaryCustomer = "Canary Customer 7f3a9c"
	canaryServer   = "server-canary-51d2e8"
	canaryRefresh  = "refresh-canary-0b6e44d1a7c2"
)

func sampleLicense(tb testing.TB) (License, Tokens, string) {
	tb.Helper()
	c := validClaims(t0)
	c.Customer = canaryCustomer
	c.Subject = canaryServer
	l := LicenseFromClaims(c)
	l.AcquiredAt = t0
	l.LastVerifyTime = t0.Add(time.Minute)
	l.LastVerifyResult = VerifyValid
	return l, Tokens{License: keyA.sign(tb, c), Refresh: canaryRefresh}, signedSet(tb, rootKey, keyA, keyB)
}

func TestStoreEmpty(t *testing.T) {
	s := newTestStore(t)
	checks := []struct {
		name string
		call func() error
		want error
	}{
		{"License", func() error { _, err := s.License(); return err }, ErrNotLicensed},
		{"Tokens", func() error { _, err := s.Tokens(); return err }, ErrNotLicensed},
		{"KeySet", func() error { _, err := s.KeySet(); return err }, ErrNotStored},
		{"Root", func() error { _, err := s.Root(); return err }, ErrNotStored},
		{"Setting", func() error { _, err := s.Setting("theme"); return err }, ErrNotStored},
		{"DeleteLicense", s.DeleteLicense, nil},
		{"VerifyAudit", s.VerifyAudit, nil},
	}
	for _, c := range checks {
		if err := c.call(); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s on an empty store = %v, want %v", c.name, err, c.want)
		}
	}
}

// assertStored checks the stored license, tokens and key set against want.
func assertStored(t *testing.T, s *Store, l License, toks Tokens, set string) {
	t.Helper()
	gotL, err := s.License()
	mustNil(t, err)
	if !reflect.DeepEqual(gotL, l) {
		t.Errorf("License = %+v\nwant      %+v", gotL, l)
	}
	gotT, err := s.Tokens()
	mustNil(t, err)
	if gotT != toks {
		t.Errorf("Tokens = %+v, want %+v", gotT, toks)
	}
	gotS, err := s.KeySet()
	mustNil(t, err)
	if !reflect.DeepEqual(gotS, set) {
		t.Errorf("KeySet = %q, want %q", gotS, set)
	}
}

func TestStoreLicenseRoundTrip(t *testing.T) {
	s := newTestStore(t)
	l, toks, set := sampleLicense(t)
	mustNil(t, s.SaveLicense(l, toks, set))
	assertStored(t, s, l, toks, set)
	assertStored(t, reopen(t, s), l, toks, set)
}

func TestStoreSaveLicenseWithoutJWKSKeepsPinnedSet(t *testing.T) {
	s := newTestStore(t)
	l, toks, set := sampleLicense(t)
	mustNil(t, s.SaveKeySet(set))
	toks.Refresh = "" // and no refresh token
	mustNil(t, s.SaveLicense(l, toks, ""))
	assertStored(t, s, l, toks, set)
}

func TestStoreUpdateLicense(t *testing.T) {
	s := newTestStore(t)
	l, toks, set := sampleLicense(t)
	mustNil(t, s.SaveLicense(l, toks, set))
	l.LastVerifyResult = VerifyRevoked
	l.LastVerifyTime = t0.Add(time.Hour)
	mustNil(t, s.UpdateLicense(l))
	assertStored(t, s, l, toks, set)
}

func TestStoreSettings(t *testing.T) {
	s := newTestStore(t)
	want := map[string]string{"theme": "dark", "refresh": "on", "empty": ""}
	for k, v := range want {
		mustNil(t, s.SetSetting(k, v))
	}
	mustNil(t, s.SetSetting("theme", "light")) // last write wins
	want["theme"] = "light"
	s = reopen(t, s)
	for k, v := range want {
		got, err := s.Setting(k)
		if err != nil || got != v {
			t.Errorf("Setting(%q) = %q, %v; want %q", k, got, err, v)
		}
	}
}

func TestStoreNotified(t *testing.T) {
	s := newTestStore(t)
	mark := func(key string, want bool) {
		t.Helper()
		already, err := s.MarkNotified(key, t0)
		if err != nil || already != want {
			t.Errorf("MarkNotified(%q) = %v, %v; want %v", key, already, err, want)
		}
	}
	mark("renewal/30d", false)
	mark("renewal/30d", true)
	mark("renewal/7d", false)
	mark("token-soon/tok-1", false)

	s = reopen(t, s)
	mark("renewal/30d", true)
	mark("token-soon/tok-1", true)

	mustNil(t, s.ClearNotified("renewal/"))
	mark("renewal/30d", false)
	mark("renewal/7d", false)
	mark("token-soon/tok-1", true) // other prefixes stay

	mustNil(t, s.ClearNotified(""))
	mark("token-soon/tok-1", false)
}

func TestStoreDeleteLicenseKeepsAuditAndJWKS(t *testing.T) {
	s := newTestStore(t)
	l, toks, set := sampleLicense(t)
	mustNil(t, s.SaveLicense(l, toks, set))
	appendAudit(t, s, 3)
	mustNil(t, s.DeleteLicense())

	s = reopen(t, s)
	if _, err := s.License(); !errors.Is(err, ErrNotLicensed) {
		t.Errorf("License after delete = %v, want ErrNotLicensed", err)
	}
	if _, err := s.Tokens(); !errors.Is(err, ErrNotLicensed) {
		t.Errorf("Tokens after delete = %v, want ErrNotLicensed", err)
	}
	if _, err := s.get(keyRefresh); !errors.Is(err, ErrNotStored) {
		t.Errorf("refresh token after delete: %v, want it gone", err)
	}
	if got, err := s.KeySet(); err != nil || !reflect.DeepEqual(got, set) {
		t.Errorf("JWKS after delete = %+v, %v; want the pinned set", got, err)
	}
	if log, err := s.AuditLog(); err != nil || len(log) != 3 {
		t.Errorf("audit log after delete: %d entries, %v; want 3", len(log), err)
	}
	mustNil(t, s.VerifyAudit())
}

// The license, its tokens and above all the refresh token must not be
// readable from the files, and the refresh token must not be readable even
// through Badger with the key file.
func TestStoreSecretsNotInClear(t *testing.T) {
	s := newTestStore(t)
	root := filepath.Dir(storeDir(s))
	l, toks, set := sampleLicense(t)
	mustNil(t, s.SaveLicense(l, toks, set))
	appendAudit(t, s, 2)
	secrets := map[string]string{
		"refresh token": toks.Refresh,
		"license token": toks.License,
		"customer":      l.Customer,
		"server ID":     l.ServerID,
		"transaction":   l.TransactionID + `"`, // with the JSON quote: the bare value is short
	}

	var raw []byte
	mustNil(t, s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyRefresh))
		if err != nil {
			return err
		}
		raw, err = item.ValueCopy(nil)
		return err
	}))
	if len(raw) == 0 || bytes.Contains(raw, []byte(toks.Refresh)) {
		t.Errorf("the refresh token is in clear inside Badger (%d bytes)", len(raw))
	}

	assertNotInFiles(t, "open store", root, secrets)
	mustNil(t, s.Close())
	assertNotInFiles(t, "closed store", root, secrets)
}

func assertNotInFiles(t *testing.T, when, root string, secrets map[string]string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil && d.Name() == "LOCK" && runtime.GOOS == "windows" {
			return nil // held open with no sharing while the store is open; it holds nothing
		}
		if err != nil {
			return err
		}
		files++
		for name, secret := range secrets {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s: the %s is in clear in %s", when, name, filepath.Base(path))
			}
		}
		return nil
	})
	mustNil(t, err)
	if files < 3 {
		t.Fatalf("%s: only %d files under %s; is this the store?", when, files, root)
	}
}

func TestStoreKeyFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		opts    StoreOptions
		keyPath string
	}{
		{"default beside the store", StoreOptions{Dir: filepath.Join(dir, "a", "store")}, filepath.Join(dir, "a", "store.key")},
		{"explicit path", StoreOptions{Dir: filepath.Join(dir, "b"), KeyFile: filepath.Join(dir, "keys", "b.key")}, filepath.Join(dir, "keys", "b.key")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t, tc.opts)
			checkLocalFile(t, tc.keyPath, 0, 32)
			key, err := os.ReadFile(tc.keyPath)
			mustNil(t, err)
			mustNil(t, s.SetSetting("x", "y"))
			s = reopenWith(t, s, tc.opts)
			if again, _ := os.ReadFile(tc.keyPath); !bytes.Equal(again, key) {
				t.Error("reopening replaced the key")
			}
			if v, err := s.Setting("x"); err != nil || v != "y" {
				t.Errorf("after reopen with the same key: %q, %v", v, err)
			}
		})
	}
}

func TestOpenStoreRefuses(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) // dir is the store directory
		want  error                          // nil: any error
	}{
		{"no directory", nil, nil},
		{"empty key file", func(t *testing.T, dir string) { writeKey(t, dir, 0) }, ErrStoreCorrupt},
		{"16-byte key file", func(t *testing.T, dir string) { writeKey(t, dir, 16) }, ErrStoreCorrupt},
		{"33-byte key file", func(t *testing.T, dir string) { writeKey(t, dir, 33) }, ErrStoreCorrupt},
		{"another store's key", func(t *testing.T, dir string) {
			s := openTestStore(t, StoreOptions{Dir: dir})
			mustNil(t, s.SetSetting("x", "y"))
			mustNil(t, s.Close())
			writeKey(t, dir, 32)
		}, ErrStoreCorrupt},
		{"newer schema", func(t *testing.T, dir string) { writeSchema(t, dir, strconv.Itoa(SchemaVersion+1)) }, ErrSchemaTooNew},
		{"unreadable schema", func(t *testing.T, dir string) { writeSchema(t, dir, "one") }, ErrStoreCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := StoreOptions{}
			if tc.setup != nil {
				opts.Dir = filepath.Join(t.TempDir(), "store")
				tc.setup(t, opts.Dir)
			}
			s, err := OpenStore(opts)
			if err == nil {
				s.Close()
				t.Fatal("OpenStore succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// writeKey replaces the store's key file with n bytes of a fixed pattern.
func writeKey(t *testing.T, dir string, n int) {
	t.Helper()
	mustNil(t, os.MkdirAll(filepath.Dir(dir), 0o700))
	mustNil(t, os.WriteFile(dir+".key", bytes.Repeat([]byte{0x5a}, n), 0o600))
}

// writeSchema creates a store and overwrites its schema version.
func writeSchema(t *testing.T, dir, version string) {
	t.Helper()
	s := openTestStore(t, StoreOptions{Dir: dir})
	mustNil(t, s.put(keySchema, []byte(version)))
	mustNil(t, s.Close())
}

func TestStoreSchemaAndMigrations(t *testing.T) {
	s := newTestStore(t)
	if v, err := s.Schema(); err != nil || v != SchemaVersion {
		t.Fatalf("Schema() = %d, %v; want %d", v, err, SchemaVersion)
	}
	mustNil(t, s.SetSetting("old", "layout"))
	mustNil(t, s.put(keySchema, []byte("0"))) // pretend an older build wrote it

	runs := 0
	mig := Migration{From: 0, Run: func(txn *badger.Txn) error {
		runs++
		item, err := txn.Get([]byte(prefixSet + "old"))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return txn.Set([]byte(prefixSet+"new"), append(v, "-migrated"...))
	}}
	later := Migration{From: SchemaVersion, Run: func(*badger.Txn) error { return errors.New("must not run") }}
	s = reopenWith(t, s, StoreOptions{Migrations: []Migration{later, mig}})
	if runs != 1 {
		t.Fatalf("migration ran %d times, want 1", runs)
	}
	if v, err := s.Setting("new"); err != nil || v != "layout-migrated" {
		t.Errorf("migrated setting = %q, %v", v, err)
	}
	if v, err := s.Schema(); err != nil || v != SchemaVersion {
		t.Errorf("Schema() after migration = %d, %v; want %d", v, err, SchemaVersion)
	}
	s = reopenWith(t, s, StoreOptions{Migrations: []Migration{mig}})
	if runs != 1 {
		t.Errorf("migration ran again on an up-to-date store (%d runs)", runs)
	}

	// A failing migration leaves the store at the old version.
	mustNil(t, s.put(keySchema, []byte("0")))
	dir := storeDir(s)
	mustNil(t, s.Close())
	boom := errors.New("boom")
	if s2, err := OpenStore(StoreOptions{Dir: dir, Migrations: []Migration{{From: 0, Run: func(*badger.Txn) error { return boom }}}}); !errors.Is(err, boom) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("failing migration: err = %v, want it wrapped", err)
	}
	s = openTestStore(t, StoreOptions{Dir: dir, Migrations: []Migration{mig}})
	if runs != 2 {
		t.Errorf("after a failed migration the next open ran it %d times in all, want 2", runs)
	}
	if v, err := s.Schema(); err != nil || v != SchemaVersion {
		t.Errorf("Schema() after the retried migration = %d, %v; want %d", v, err, SchemaVersion)
	}
}

func TestStoreClosed(t *testing.T) {
	s := newTestStore(t)
	l, toks, set := sampleLicense(t)
	mustNil(t, s.SaveLicense(l, toks, set))
	clock := newTestClock(t, s, newFakeClock(t0))
	mustNil(t, s.Close())
	mustNil(t, s.Close()) // twice is fine

	calls := map[string]func() error{
		"SaveLicense":     func() error { return s.SaveLicense(l, toks, set) },
		"UpdateLicense":   func() error { return s.UpdateLicense(l) },
		"License":         func() error { _, err := s.License(); return err },
		"Tokens":          func() error { _, err := s.Tokens(); return err },
		"DeleteLicense":   s.DeleteLicense,
		"SaveKeySet":      func() error { return s.SaveKeySet(set) },
		"KeySet":          func() error { _, err := s.KeySet(); return err },
		"SetSetting":      func() error { return s.SetSetting("a", "b") },
		"Setting":         func() error { _, err := s.Setting("a"); return err },
		"MarkNotified":    func() error { _, err := s.MarkNotified("a", t0); return err },
		"ClearNotified":   func() error { return s.ClearNotified("") },
		"AppendAudit":     func() error { _, err := s.AppendAudit(EventVerified, "", t0); return err },
		"AuditLog":        func() error { _, err := s.AuditLog(); return err },
		"VerifyAudit":     s.VerifyAudit,
		"Schema":          func() error { _, err := s.Schema(); return err },
		"NewTrustedClock": func() error { _, err := NewTrustedClock(s, nil, tolerance); return err },
		"Observe":         func() error { return clock.Observe(t0.Add(time.Hour)) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}
