//go:build !windows

package licensecore

import (
	"errors"
	"os"
	"strings"
)

// machineIDFromOS reads the systemd/D-Bus machine id.
func machineIDFromOS() (string, error) {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if raw, err := os.ReadFile(p); err == nil {
			if id := strings.TrimSpace(string(raw)); id != "" {
				return id, nil
			}
		}
	}
	return "", errors.New("this PC has no machine id (/etc/machine-id)")
}
