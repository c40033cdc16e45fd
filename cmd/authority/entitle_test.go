package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

func TestEntitleCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	srv, err := authority.New(authority.Options{DataDir: data, Issuer: "http://authority.test", Logger: zerolog.Nop(),
		Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Seed(authority.DemoSeed(authority.DeviceSeed{ServerID: "POS-PC", Name: "Back office", InstallCode: "BCDF-GHJK-LMNP-QRST"})); err != nil {
		t.Fatal(err)
	}
	root := srv.RootPublicKey()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(wire.LicenseRequestFile{Version: 1, Type: "licence-request", AccountNumber: "ACC-1", SerialNumber: "SER-1",
		InstallCode: "bcdf-ghjk-lmnp-qrst", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", CreatedAt: time.Now().UTC()})
	reqFile := filepath.Join(dir, "req.json")
	if err := os.WriteFile(reqFile, req, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "license.ent")
	var said strings.Builder
	if err := entitle([]string{"-data", data, "-issuer", "http://authority.test", "-request", reqFile, "-out", out, "-log-level", "error"}, &said); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil || !strings.Contains(said.String(), out) {
		t.Fatalf("no license file (%v): %s", err, said.String())
	}
	var f wire.EntitlementFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	// The file carries the key set signed by the root, and only that is
	// trusted.
	set, _, err := wire.VerifyKeySet(f.KeySet, root)
	if err != nil || f.JWKS != nil {
		t.Fatalf("the license file's key set: %v (bare JWKS %v)", err, f.JWKS)
	}
	v, _ := licensecore.NewVerifier(licensecore.VerifierOptions{Issuer: "http://authority.test", Audience: wire.DefaultAudience})
	if err := v.SetKeySet(set); err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(f.Entitlement)
	if err != nil || claims.Subject != "POS-PC" || claims.InstallCode != "bcdf-ghjk-lmnp-qrst" {
		t.Fatalf("license file claims %+v: %v", claims, err)
	}

	for name, tc := range map[string]struct {
		args []string
		want error
	}{
		"no issuer":      {[]string{"-data", data, "-request", reqFile}, nil},
		"no request":     {[]string{"-data", data, "-issuer", "http://authority.test", "-request", filepath.Join(dir, "none")}, os.ErrNotExist},
		"unknown device": {[]string{"-data", data, "-issuer", "http://authority.test", "-request", reqFile, "-device", "NOPE", "-out", out}, authority.ErrUnknownDevice},
		"wrong device":   {[]string{"-data", data, "-issuer", "http://authority.test", "-request", reqFile, "-device", "POS-0001-MAIN", "-out", out}, authority.ErrInstallMismatch},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(append([]string{"entitle", "-log-level", "error"}, tc.args...))
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
