package licensecore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// copyDir copies the fixture store so the test never changes testdata.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	mustNil(t, os.MkdirAll(to, 0o700))
	entries, err := os.ReadDir(from)
	mustNil(t, err)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(from, e.Name()))
		mustNil(t, err)
		mustNil(t, os.WriteFile(filepath.Join(to, e.Name()), raw, 0o600))
	}
}

// TestMigrateSchema1Store opens a store written by the build before schema
// 2 (testdata/store-v1: administrator "Alice" with password "correct
// horse", four failed logins of "mallory"; made with that build's
// CreateAdministrator and AdminLogin) and checks that the accounts and the
// login throttle survive the move to admin/ and that nothing is left under
// the old prefixes.
func TestMigrateSchema1Store(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "store-v1", "store"), filepath.Join(dir, "store"))
	key, err := os.ReadFile(filepath.Join("testdata", "store-v1", "store.key"))
	mustNil(t, err)
	mustNil(t, os.WriteFile(filepath.Join(dir, "store.key"), key, 0o600))

	s := openTestStore(t, StoreOptions{Dir: filepath.Join(dir, "store")})
	if v, err := s.Schema(); err != nil || v != SchemaVersion {
		t.Fatalf("schema after open = %d, %v; want %d", v, err, SchemaVersion)
	}
	for _, old := range []string{"op/", "opfail/"} {
		mustNil(t, s.scan(old, func(k string, _ []byte) error {
			t.Errorf("key %q left under the old prefix", k)
			return nil
		}))
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock, err := NewTrustedClock(s, func() time.Time { return now }, time.Minute)
	mustNil(t, err)
	a := NewAdmins(s, clock, zerolog.Nop())
	if has, err := a.HasAdministrator(); err != nil || !has {
		t.Fatalf("HasAdministrator after migration = %v, %v", has, err)
	}
	sess, err := a.AdminLogin("alice", "correct horse")
	if err != nil || sess.User() != "Alice" {
		t.Fatalf("the migrated administrator cannot log in: %v", err)
	}
	// mallory failed four times under schema 1: the throttle moved too.
	if _, err := a.AdminLogin("mallory", "wrong"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("the login throttle did not survive the migration: %v", err)
	}
	if err := a.CreateAdministrator("bob", "another password"); !errors.Is(err, ErrAdminExists) {
		t.Fatalf("CreateAdministrator on a migrated store: %v", err)
	}
	mustNil(t, s.scan(prefixPoolOp, func(k string, _ []byte) error {
		if !strings.HasPrefix(k, prefixPoolOp) {
			t.Errorf("scan leak: %q", k)
		}
		return nil
	}))
}
