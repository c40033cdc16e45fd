package licensecore_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
)

// pc is one back-office PC: a data directory and its own place for keys (a
// keyring of its own, or a file sealed to its own machine id).
type pc struct {
	data, install string
	secrets       licensecore.Secrets
}

// newPC gives each PC its own credential store: with a Secret Service
// (LICENSEDESK_KEYRING=1, as make test runs) an account of its own in it,
// which is what another PC's keyring amounts to; without one, a sealed
// file keyed to its own machine id.
func newPC(t *testing.T, install string) pc {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	p := pc{data: t.TempDir(), install: install}
	if os.Getenv("LICENSEDESK_KEYRING") == "1" {
		if err := licensecore.ProbeOSSecrets("License Desk test"); err != nil {
			t.Fatalf("LICENSEDESK_KEYRING=1 but no Secret Service: %v", err)
		}
		p.secrets = licensecore.OSSecrets("License Desk test", "pc-"+hex.EncodeToString(b))
	} else {
		p.secrets = licensecore.FileSecrets(p.data, "machine-"+hex.EncodeToString(b))
	}
	return p
}

func (p pc) open(t *testing.T, ra *realAuthority) (*licensecore.Store, *licensecore.Manager, error) {
	t.Helper()
	s, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(p.data, "store"), Logger: zerolog.Nop(), Secrets: p.secrets})
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { s.Close() })
	m, err := licensecore.NewManager(licensecore.Options{Store: s, AuthorityURL: ra.ts.URL, Root: ra.srv.RootPublicKey(),
		Logger: zerolog.Nop(), DeviceName: "Till " + p.install, InstallCode: p.install, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	return s, m, err
}

// copyTree copies a data directory file by file, as someone with a USB
// stick would.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		raw, err := os.ReadFile(path)
		if err != nil && d.Name() == "LOCK" && runtime.GOOS == "windows" {
			return nil // Windows refuses to copy the lock of an open store; it holds nothing
		}
		if err != nil {
			return err
		}
		return os.WriteFile(dst, raw, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAttackCopiedDataDirectory: a licensed data directory copied to a
// second PC (another install code, another keyring) gives its new owner
// nothing usable — no store to open, so no refresh, no verification, no
// cloud-pool activation — while the original PC keeps working.
func TestAttackCopiedDataDirectory(t *testing.T) {
	ra := startPoolAuthority(t)
	ctx := context.Background()
	orig := newPC(t, "BCDF-GHJK-LMNP-QRST")
	_, m, err := orig.open(t, ra)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	sess := adminSession(t, m)
	pool := licensecore.NewPool(m)
	if _, err := pool.SetCustomerID(ctx, sess, custID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.ActivatePool(ctx, sess, []string{"CAP-8"}, nil); err != nil {
		t.Fatal(err)
	}

	thief := newPC(t, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
	copyTree(t, orig.data, thief.data)
	_, _, err = thief.open(t, ra)
	if !errors.Is(err, licensecore.ErrStoreKeyMissing) && !errors.Is(err, licensecore.ErrSecretsForeign) {
		t.Fatalf("the copy opened (%v): its store, tokens and install key are readable on another PC", err)
	}
	// Even with the original's sealed file beside the store the copy holds
	// neither key: a new keyring of its own gets nothing from the old one.
	if _, err := thief.secrets.Get(licensecore.SecretStoreKey); !errors.Is(err, licensecore.ErrNotStored) && !errors.Is(err, licensecore.ErrSecretsForeign) {
		t.Fatalf("the copy's credential store has a store key: %v", err)
	}

	// The original keeps working: refresh, verification, the cloud pool.
	if _, err := m.RefreshNow(ctx); err != nil {
		t.Fatalf("original refresh: %v", err)
	}
	if st, err := m.Verify(ctx); err != nil || st.License.LastVerifyResult != licensecore.VerifyValid {
		t.Fatalf("original verify: %v", err)
	}
	if _, err := pool.ActivatePool(ctx, sess, []string{"CAP-4"}, nil); err != nil {
		t.Fatalf("original pool activation: %v", err)
	}
}

// TestAttackStolenTokensWithoutTheInstallKey: someone who got the store's
// contents (its tokens) but not the install key, on a PC of their own,
// can neither refresh nor verify with them: the authority binds both to
// the install key (DPoP, cnf.jkt). The original is unaffected.
func TestAttackStolenTokensWithoutTheInstallKey(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	ctx := context.Background()
	m, store := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), nil)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	toks, err := store.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	// The thief's client: the same authority, its own install key.
	_, thiefKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := licensecore.NewClient(licensecore.ClientOptions{AuthorityURL: ra.ts.URL, Root: ra.srv.RootPublicKey(), InstallKey: thiefKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, toks.Refresh); !errors.Is(err, licensecore.ErrKeyMismatch) {
		t.Fatalf("refresh with a stolen refresh token: %v", err)
	}
	if _, err := c.VerifyLicense(ctx, toks.License); !errors.Is(err, licensecore.ErrKeyMismatch) {
		t.Fatalf("verify with a stolen license token: %v", err)
	}
	if _, err := m.RefreshNow(ctx); err != nil {
		t.Fatalf("the original after the theft: %v", err)
	}
}
