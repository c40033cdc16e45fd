package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// rootLines reads what `authority root init/show` printed.
func rootLines(t *testing.T, out string) (string, string) {
	t.Helper()
	var key, fp string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "root key":
			key = strings.TrimSpace(v)
		case "fingerprint":
			fp = strings.TrimSpace(v)
		}
	}
	if key == "" || fp == "" {
		t.Fatalf("output lacks the root key or fingerprint:\n%s", out)
	}
	return key, fp
}

func TestRootCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var out strings.Builder
	if err := root([]string{"init", "-data", data, "-log-level", "error"}, &out); err != nil {
		t.Fatal(err)
	}
	key, fp := rootLines(t, out.String())
	pub, err := wire.ParseRootKey(key)
	if err != nil || wire.Fingerprint(pub) != fp {
		t.Fatalf("printed root %q / %q: %v", key, fp, err)
	}
	for _, f := range []string{data + ".root", data + ".key"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("root init did not write %s beside the data directory: %v", f, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root init made the data directory: %v", err)
	}

	// It never overwrites a root.
	before, _ := os.ReadFile(data + ".root")
	if err := run([]string{"root", "init", "-data", data, "-log-level", "error"}); !errors.Is(err, authority.ErrRootExists) {
		t.Fatalf("second root init: %v", err)
	}
	if after, _ := os.ReadFile(data + ".root"); string(after) != string(before) {
		t.Fatal("second root init changed the root key file")
	}

	// show prints the same; the server started on this data signs with it.
	out.Reset()
	if err := root([]string{"show", "-data", data}, &out); err != nil {
		t.Fatal(err)
	}
	if k, f := rootLines(t, out.String()); k != key || f != fp {
		t.Fatalf("show printed %s / %s, init %s / %s", k, f, key, fp)
	}
	srv, err := authority.New(authority.Options{DataDir: data, Issuer: "http://authority.test", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := srv.SignedKeySet()
	_ = srv.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := wire.VerifyKeySet(jws, pub); err != nil {
		t.Fatalf("the server's key set does not verify with the printed root: %v", err)
	}

	for name, tc := range map[string]struct {
		args []string
		want error
	}{
		"no subcommand":    {[]string{"root"}, nil},
		"unknown":          {[]string{"root", "rotate"}, nil},
		"show without one": {[]string{"root", "show", "-data", filepath.Join(dir, "other")}, authority.ErrStoreKey},
		"wrong key file":   {[]string{"root", "show", "-data", data, "-key-file", writeKey(t, dir)}, authority.ErrWrongKey},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(tc.args)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("key from the environment", func(t *testing.T) {
		k, _ := os.ReadFile(data + ".key")
		t.Setenv(authority.KeyEnv, strings.TrimSpace(string(k)))
		out.Reset()
		if err := root([]string{"show", "-data", data, "-key-file", filepath.Join(dir, "absent.key")}, &out); err != nil {
			t.Fatal(err)
		}
		if k, _ := rootLines(t, out.String()); k != key {
			t.Fatalf("show with %s printed %s", authority.KeyEnv, k)
		}
	})
}

// writeKey writes another valid store key and returns its file.
func writeKey(t *testing.T, dir string) string {
	t.Helper()
	f := filepath.Join(dir, "wrong.key")
	if err := os.WriteFile(f, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
