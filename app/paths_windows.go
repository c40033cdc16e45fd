//go:build windows

package app

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// defaultDataDir is where License Desk keeps its data when neither -data
// nor LICENSEDESK_HOME says: per user in %LOCALAPPDATA%\LicenseDesk (local,
// not roaming: the store is bound to this PC), or, for the agent run as a
// Windows service, %ProgramData%\LicenseDesk. "" when Windows names no
// such folder.
func defaultDataDir(service bool) string {
	folder, env := windows.FOLDERID_LocalAppData, "LOCALAPPDATA"
	if service {
		folder, env = windows.FOLDERID_ProgramData, "ProgramData"
	}
	dir, err := windows.KnownFolderPath(folder, windows.KF_FLAG_DEFAULT)
	if err != nil || dir == "" {
		if dir = os.Getenv(env); dir == "" {
			return ""
		}
	}
	return filepath.Join(dir, "LicenseDesk")
}
