//go:build windows

package licensecore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// checkLocalFile checks that path, after its first head bytes, is sealed
// with DPAPI (Windows has no file modes): it starts with dpapiMagic there,
// opens to plainLen bytes (when plainLen > 0), and the plain bytes do not
// appear in it.
func checkLocalFile(t *testing.T, path string, head, plainLen int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	mustNil(t, err)
	if len(raw) < head || !bytes.HasPrefix(raw[head:], dpapiMagic) {
		t.Fatalf("%s is not sealed with DPAPI after byte %d", path, head)
	}
	plain, err := openLocal(raw[head:])
	mustNil(t, err)
	if plainLen > 0 && len(plain) != plainLen {
		t.Errorf("%s opens to %d bytes, want %d", path, len(plain), plainLen)
	}
	if bytes.Contains(raw, plain) {
		t.Errorf("%s holds its plain bytes", path)
	}
}

func TestDPAPISealedFileTampered(t *testing.T) {
	dir := t.TempDir()
	sec := FileSecrets(dir, "machine-a")
	mustNil(t, sec.Set(SecretInstallKey, []byte("seed")))
	path := filepath.Join(dir, SecretsFileName)
	raw, err := os.ReadFile(path)
	mustNil(t, err)
	raw[len(raw)-5] ^= 0xff // inside DPAPI's blob
	mustNil(t, os.WriteFile(path, raw, 0o600))
	if _, err := FileSecrets(dir, "machine-a").Get(SecretInstallKey); !errors.Is(err, ErrSecretsForeign) {
		t.Fatalf("a damaged DPAPI blob: %v, want ErrSecretsForeign", err)
	}
}

func TestMachineIDFromRegistry(t *testing.T) {
	id, err := MachineIDFromOS()
	mustNil(t, err)
	guid := regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	if !guid.MatchString(id) {
		t.Errorf("MachineGuid %q is not a GUID", id)
	}
	again, err := MachineIDFromOS()
	if err != nil || again != id {
		t.Errorf("second read: %q, %v; want %q", again, err, id)
	}
}
