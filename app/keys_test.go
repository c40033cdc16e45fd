package app

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/zalando/go-keyring"

	"licensedesk/licensecore"
)

// hideSessionBus makes the credential store unreachable for this test.
func hideSessionBus(t *testing.T) {
	t.Helper()
	secretServiceOnly(t)
	if _, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")); err == nil {
		t.Skip("this PC has a default session bus, which cannot be hidden")
	}
	if _, err := licensecore.MachineIDFromOS(); err != nil {
		t.Skip("this PC has no machine id for the sealed file")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
}

// needKeyring skips without a credential store, or fails when
// LICENSEDESK_KEYRING says one runs; it removes dir's items at the end.
// secretServiceOnly skips a test of the credential store being out of
// reach where a test cannot put it there: on Linux it is the Secret Service
// on the session bus, which a test hides; Windows' Credential Manager is
// always there.
func secretServiceOnly(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the credential store can be put out of reach only on Linux (the session bus)")
	}
}

func needKeyring(t *testing.T, dir string) {
	t.Helper()
	if err := licensecore.ProbeOSSecrets(keyringService); err != nil {
		if os.Getenv("LICENSEDESK_KEYRING") != "" {
			t.Fatalf("LICENSEDESK_KEYRING is set but the credential store does not work: %v", err)
		}
		t.Skipf("no credential store: %v", err)
	}
	t.Cleanup(func() {
		for _, name := range keyNames {
			_ = keyring.Delete(keyringService, keyringAccount(dir)+"/"+name)
		}
	})
}

func openTestCore(t *testing.T, dir string) *core {
	t.Helper()
	c, err := openCore(Config{DataDir: dir, AuthorityURL: "http://127.0.0.1:1", LogLevel: zerolog.InfoLevel, DeviceName: "pc"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func TestKeysSealedFileWithoutCredentialStore(t *testing.T) {
	hideSessionBus(t)
	dir := t.TempDir()
	c := openTestCore(t, dir)
	if _, err := c.store.InstallKey(); err != nil {
		t.Fatal(err)
	}
	c.close()
	if c.keysIn != licensecore.SecretsKindFile {
		t.Errorf("keysIn = %q, want %q", c.keysIn, licensecore.SecretsKindFile)
	}
	if !exists(filepath.Join(dir, licensecore.SecretsFileName)) || exists(filepath.Join(dir, "store.key")) {
		t.Error("want the sealed file and no key file")
	}
	logged, err := os.ReadFile(filepath.Join(dir, "licensedesk.log"))
	if err != nil || !bytes.Contains(logged, []byte("no credential store; keeping the keys in a file sealed to this PC")) {
		t.Errorf("the log does not warn: %v\n%s", err, logged)
	}
	openTestCore(t, dir).close() // a restart opens it
}

func TestKeysInCredentialStore(t *testing.T) {
	dir := t.TempDir()
	needKeyring(t, dir)
	c := openTestCore(t, dir)
	ik, err := c.store.InstallKey()
	if err != nil {
		t.Fatal(err)
	}
	c.close()
	if c.keysIn != "Secret Service" && c.keysIn != "Credential Manager" && c.keysIn != "Keychain" {
		t.Errorf("keysIn = %q", c.keysIn)
	}
	for _, f := range []string{licensecore.SecretsFileName, "store.key"} {
		if exists(filepath.Join(dir, f)) {
			t.Errorf("%s is in the data directory", f)
		}
	}
	c = openTestCore(t, dir)
	defer c.close()
	if again, err := c.store.InstallKey(); err != nil || !again.Equal(ik) {
		t.Errorf("after a restart: %v", err)
	}
}

func TestKeysMoveFromSealedFileToCredentialStore(t *testing.T) {
	dir := t.TempDir()
	needKeyring(t, dir)
	sessionBus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	// First run while the credential store is out of reach.
	func() {
		hideSessionBus(t)
		c := openTestCore(t, dir)
		defer c.close()
		if _, err := c.store.InstallKey(); err != nil {
			t.Fatal(err)
		}
		if err := c.store.SetSetting("kept", "yes"); err != nil {
			t.Fatal(err)
		}
	}()
	sealed := licensecore.FileSecrets(dir, mustMachineID(t))
	ik, err := sealed.Get(licensecore.SecretInstallKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", sessionBus) // back, for the next run
	c := openTestCore(t, dir)
	defer c.close()
	if c.keysIn == licensecore.SecretsKindFile {
		t.Fatal("the credential store was not chosen")
	}
	if v, err := c.store.Setting("kept"); err != nil || v != "yes" {
		t.Errorf("the store after the move: %q, %v", v, err)
	}
	if k, err := c.store.InstallKey(); err != nil || !bytes.Equal(k.Seed(), ik) {
		t.Errorf("the installation key changed: %v", err)
	}
	if exists(filepath.Join(dir, licensecore.SecretsFileName)) {
		t.Error("the sealed file stays after its keys moved")
	}
}

func mustMachineID(t *testing.T) string {
	t.Helper()
	id, err := licensecore.MachineIDFromOS()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestKeysStatusWithoutCredentialStoreWhileAppRuns(t *testing.T) {
	secretServiceOnly(t)
	dir := t.TempDir()
	needKeyring(t, dir)
	c := openTestCore(t, dir) // the agent, in the desktop session
	defer c.close()
	// Only the socket: a script that cannot reach the credential store
	// cannot open the store either; it reads the agent's status file.
	sock, err := net.Listen("unix", filepath.Join(dir, agentSocket))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	l := storedLicense(t, c.store, 60*time.Hour, 90*24*time.Hour)
	if err := writeSnapshot(dir, licensecore.Evaluate(&l, time.Now(), licensecore.DefaultPolicy()), licensecore.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	hideSessionBus(t) // a monitoring script outside the session
	var out bytes.Buffer
	if code := runStatus(Config{DataDir: dir, JSON: true}, &out, io.Discard); code != 0 || !bytes.Contains(out.Bytes(), []byte(`"jti-9"`)) {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	// Without the agent, the same command cannot tell.
	sock.Close()
	c.close()
	if code := runStatus(Config{DataDir: dir, JSON: true}, io.Discard, io.Discard); code != 3 {
		t.Fatalf("without the app: exit %d, want 3", code)
	}
}
