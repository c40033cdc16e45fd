//go:build !windows

package licensecore

import "strings"

// storeInUse tells whether Badger's open error says another process holds
// the directory lock (flock on the LOCK file).
func storeInUse(msg string) bool {
	return strings.Contains(msg, "Cannot acquire directory lock")
}
