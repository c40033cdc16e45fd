//go:build !windows

package licensecore

import (
	"os"
	"testing"
)

// checkLocalFile checks that path is guarded by its mode: 0600, and
// holding plainLen bytes as they are after its first head bytes (when
// plainLen > 0).
func checkLocalFile(t *testing.T, path string, head, plainLen int) {
	t.Helper()
	fi, err := os.Stat(path)
	mustNil(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
	}
	if plainLen > 0 && fi.Size() != int64(head+plainLen) {
		t.Errorf("%s: %d bytes, want %d", path, fi.Size(), head+plainLen)
	}
}
