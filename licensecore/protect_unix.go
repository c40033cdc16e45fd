//go:build !windows

package licensecore

// sealLocal and openLocal wrap what License Desk writes to a file that must
// stay on this PC and this account (the secrets file, the store key file).
// Here the file's mode (0600) guards it, so the bytes stay as they are.
func sealLocal(b []byte) ([]byte, error) { return b, nil }

// openLocal reverses sealLocal.
func openLocal(b []byte) ([]byte, error) { return b, nil }
