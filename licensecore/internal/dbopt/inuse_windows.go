//go:build windows

package dbopt

import (
	"strings"

	"golang.org/x/sys/windows"
)

// InUse tells whether badger.Open failed because another process holds
// the directory. On Windows Badger locks the directory by opening its LOCK
// file with no sharing, so a second process gets a sharing violation
// ("Cannot create lock file"); a file another process still has mapped
// cannot be truncated or replaced (a user-mapped section). Badger formats
// the system error as text, so the words of those errors, in this PC's
// language, identify them.
func InUse(err error) bool {
	msg := err.Error()
	if !strings.Contains(msg, "Cannot create lock file") && !strings.Contains(msg, windows.ERROR_USER_MAPPED_FILE.Error()) {
		return false
	}
	for _, e := range []windows.Errno{windows.ERROR_SHARING_VIOLATION, windows.ERROR_LOCK_VIOLATION, windows.ERROR_USER_MAPPED_FILE} {
		if strings.Contains(msg, e.Error()) {
			return true
		}
	}
	return false
}
