package licensecore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"licensedesk/licensecore"
)

// The store key and the installation key live in Secrets: here a file
// sealed to this PC, as where the PC has no credential store (the app
// prefers licensecore.OSSecrets when licensecore.ProbeOSSecrets succeeds).
// A copy of the data directory opens nothing on another PC.
func ExampleOpenStore_secrets() {
	data, err := os.MkdirTemp("", "licensedesk-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(data)
	keys := licensecore.FileSecrets(data, "machine-id-of-this-pc")
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(data, "store"), Secrets: keys})
	if err != nil {
		panic(err)
	}
	if _, err := store.InstallKey(); err != nil {
		panic(err)
	}
	store.Close()
	fmt.Println("keys in:", keys.Kind())

	elsewhere := licensecore.FileSecrets(data, "machine-id-of-another-pc")
	_, err = licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(data, "store"), Secrets: elsewhere})
	fmt.Println("on another PC:", errors.Is(err, licensecore.ErrSecretsForeign))
	// Output:
	// keys in: file
	// on another PC: true
}
