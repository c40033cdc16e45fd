//go:build !windows

package licensecore

import "os"

// replaceBusy: a rename over a file replaces it atomically under its
// readers here, so no failure is a passing one.
func replaceBusy(error) bool { return false }

// openShared is os.Open: a rename over the file never waits for readers.
func openShared(path string) (*os.File, error) { return os.Open(path) }
