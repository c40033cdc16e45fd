package authority_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"licensedesk/licensecore/authority"
)

// TestSecretsAtRest: where the store key and the root key live, and the
// clear errors when they are wrong or missing.
func TestSecretsAtRest(t *testing.T) {
	e := newEnv(t)
	root := e.srv.RootPublicKey()
	dir := e.opts.DataDir
	for _, f := range []string{dir + ".key", dir + ".root"} {
		fi, err := os.Stat(f)
		if err != nil || (fi.Mode().Perm() != 0o600 && runtime.GOOS != "windows") { // no POSIX modes on Windows
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	key, _ := os.ReadFile(dir + ".key")
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	open := func(mod func(*authority.Options)) (*authority.Server, error) {
		o := e.opts
		if mod != nil {
			mod(&o)
		}
		return authority.New(o)
	}
	_, otherKey := tempKey(t)

	t.Run("the key from the environment", func(t *testing.T) {
		t.Setenv(authority.KeyEnv, strings.TrimSpace(string(key)))
		srv, err := open(func(o *authority.Options) { o.KeyFile = filepath.Join(t.TempDir(), "absent.key") })
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		if !root.Equal(srv.RootPublicKey()) {
			t.Fatal("another root")
		}
	})
	t.Run("a wrong key in the environment", func(t *testing.T) {
		t.Setenv(authority.KeyEnv, otherKey)
		if _, err := open(nil); !errors.Is(err, authority.ErrWrongKey) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a malformed key in the environment", func(t *testing.T) {
		t.Setenv(authority.KeyEnv, "c2hvcnQ")
		if _, err := open(nil); !errors.Is(err, authority.ErrStoreKey) || !strings.Contains(err.Error(), authority.KeyEnv) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a wrong key for the store", func(t *testing.T) {
		// A root sealed with the wrong key gets past the root file: Badger
		// itself refuses the key.
		keyFile, _ := tempKey(t)
		o := authority.Options{DataDir: dir, KeyFile: keyFile, RootKeyFile: filepath.Join(t.TempDir(), "root")}
		if _, err := authority.InitRoot(o); err != nil {
			t.Fatal(err)
		}
		_, err := open(func(opts *authority.Options) { opts.KeyFile, opts.RootKeyFile = o.KeyFile, o.RootKeyFile })
		if !errors.Is(err, authority.ErrWrongKey) || !strings.Contains(err.Error(), "data directory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a lost key file is not replaced", func(t *testing.T) {
		lost := filepath.Join(t.TempDir(), "lost.key")
		_, err := open(func(o *authority.Options) { o.KeyFile = lost })
		if !errors.Is(err, authority.ErrStoreKey) {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(lost); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a new key file was made for an existing store")
		}
	})
	t.Run("a lost root is not replaced", func(t *testing.T) {
		lost := filepath.Join(t.TempDir(), "lost.root")
		if _, err := open(func(o *authority.Options) { o.RootKeyFile = lost }); !errors.Is(err, authority.ErrNoRoot) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a damaged root", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.root")
		_ = os.WriteFile(bad, []byte(`{"format":"licensedesk-authority-root","version":1,"public_key":"x"}`), 0o600)
		if _, err := open(func(o *authority.Options) { o.RootKeyFile = bad }); !errors.Is(err, authority.ErrBadRootFile) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("root show and init", func(t *testing.T) {
		pub, err := authority.ReadRoot(authority.Options{DataDir: dir})
		if err != nil || !pub.Equal(root) {
			t.Fatalf("ReadRoot: %v", err)
		}
		if _, err := authority.InitRoot(authority.Options{DataDir: dir}); !errors.Is(err, authority.ErrRootExists) {
			t.Fatalf("InitRoot over an existing root: %v", err)
		}
	})
	t.Run("a new deployment with the key in the environment", func(t *testing.T) {
		t.Setenv(authority.KeyEnv, otherKey)
		fresh := filepath.Join(t.TempDir(), "data")
		srv, err := authority.New(authority.Options{DataDir: fresh, Issuer: e.url, Logger: e.opts.Logger})
		if err != nil {
			t.Fatal(err)
		}
		_ = srv.Close()
		if _, err := os.Stat(fresh + ".key"); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a key file was written although the key came from the environment")
		}
	})
	e.start() // the cleanup closes it
}

// tempKey writes a fresh store key file and returns it and the key.
func tempKey(t *testing.T) (string, string) {
	t.Helper()
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i*7 + 3)
	}
	k := base64.RawURLEncoding.EncodeToString(raw)
	f := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(f, []byte(k+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f, k
}
