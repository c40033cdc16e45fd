//go:build linux

package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// TestPrepareLicensedHome gives bench/startup.sh a licensed data directory
// the honest way: the authority binary, the device flow through
// licensecore.Manager (what the wizard calls) and a person approving in
// headless Chromium. It runs only when the script asks:
//
//	LICENSEDESK_PREPARE_HOME            the app data directory to license
//	LICENSEDESK_PREPARE_AUTHORITY_DATA  the authority's data directory
//	LICENSEDESK_PREPARE_ADDR            the authority's loopback address
//
// The script then serves the same authority data on the same address, so
// the license's issuer answers during the benchmark.
func TestPrepareLicensedHome(t *testing.T) {
	home := os.Getenv("LICENSEDESK_PREPARE_HOME")
	authData, addr := os.Getenv("LICENSEDESK_PREPARE_AUTHORITY_DATA"), os.Getenv("LICENSEDESK_PREPARE_ADDR")
	if home == "" || authData == "" || addr == "" {
		t.Skip("bench/startup.sh sets LICENSEDESK_PREPARE_HOME, _AUTHORITY_DATA and _ADDR")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the approval needs %s: %v", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	authBin := filepath.Join(t.TempDir(), "authority")
	goBuild(t, "build", "-o", authBin, "./cmd/authority")
	installCode := thisInstallCode()
	auth := serveAuthority(ctx, t, authBin, addr, authData, filepath.Join(t.TempDir(), "authority.log"),
		e2eSeed(installCode), "-poll-interval", "1s")
	st := licenseHome(ctx, t, home, auth.base, auth.root, installCode)
	t.Logf("%s licensed as %s, token until %s", home, st.License.ServerID, st.License.TokenExpiry)
}

// licenseHome licenses the app data directory home through the device
// flow, as the wizard does: licensecore.Manager asks the authority at base
// for a code, a person approves it in headless Chromium, and the Manager
// stores the license. The app must not be running on home (its store is
// locked then); the authority must be, seeded with e2eSeed.
func licenseHome(ctx context.Context, t *testing.T, home, base, root, installCode string) licensecore.Status {
	t.Helper()
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(home, "store"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	machine, err := licensecore.MachineID(store)
	if err != nil {
		t.Fatal(err)
	}
	rootKey, err := wire.ParseRootKey(root)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: base, Root: rootKey,
		Policy: licensecore.DefaultPolicy(), Logger: zerolog.Nop(),
		DeviceName: e2eDevice, InstallCode: licensecore.InstallCode(machine)})
	if err != nil {
		t.Fatal(err)
	}
	da, err := mgr.StartDeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		st  licensecore.Status
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := mgr.CompleteDeviceAuth(ctx, da)
		done <- result{st, err}
	}()
	personApproves(ctx, t, base, da.UserCode, installCode)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.st.State != licensecore.Licensed {
		t.Fatalf("status after the approval: %s", res.st.State)
	}
	return res.st
}
