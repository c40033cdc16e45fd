//go:build !windows

package dbopt

import "strings"

// InUse tells whether badger.Open failed because another process holds
// the directory (flock on its LOCK file).
func InUse(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot acquire directory lock")
}
