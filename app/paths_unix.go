//go:build !windows

package app

import (
	"os"
	"path/filepath"
)

// defaultDataDir is where License Desk keeps its data when neither -data
// nor LICENSEDESK_HOME says: per user under the XDG config directory
// (~/.config/licensedesk), or, for the agent run as a system service,
// /var/lib/licensedesk (the systemd unit's StateDirectory). "" when the
// user's directory is unknown (no $HOME).
func defaultDataDir(service bool) string {
	if service {
		return "/var/lib/licensedesk"
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "licensedesk")
}
