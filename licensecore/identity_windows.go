//go:build windows

package licensecore

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// machineIDFromOS reads MachineGuid, which Windows sets at installation.
// WOW64_64KEY: a 32-bit build must read the 64-bit view, where the value
// lives.
func machineIDFromOS() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", fmt.Errorf("this PC has no machine id (HKLM\\SOFTWARE\\Microsoft\\Cryptography): %w", err)
	}
	defer k.Close()
	id, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return "", fmt.Errorf("this PC has no machine id (MachineGuid): %w", err)
	}
	if id = strings.TrimSpace(id); id == "" {
		return "", errors.New("this PC has no machine id (MachineGuid is empty)")
	}
	return id, nil
}
