package licensecore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"licensedesk/licensecore/wire"
)

// InstallCode derives this installation's code from a stable machine
// identifier: 16 characters shown as XXXX-XXXX-XXXX-XXXX. The same machine
// always gets the same code; the identifier itself never leaves the PC.
func InstallCode(machineID string) string {
	sum := sha256.Sum256([]byte("licensedesk-install\x00" + machineID))
	var b strings.Builder
	for i := 0; i < 16; i++ {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(wire.CodeAlphabet[int(sum[i])%len(wire.CodeAlphabet)])
	}
	return b.String()
}

// MachineIDFromOS returns the operating system's stable id of this PC (the
// systemd/D-Bus machine id; on Windows the registry's MachineGuid), without
// a store (FileSecrets seals with it before the store can open).
func MachineIDFromOS() (string, error) { return machineIDFromOS() }

// MachineID returns MachineIDFromOS. When the PC has none, a
// random id is kept in the store so the install code is still stable.
func MachineID(s *Store) (string, error) {
	if id, err := MachineIDFromOS(); err == nil {
		return id, nil
	}
	id, err := s.Setting("machine_id")
	if err == nil && id != "" {
		return id, nil
	}
	if err != nil && !errors.Is(err, ErrNotStored) {
		return "", err
	}
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	id = hex.EncodeToString(buf)
	return id, s.SetSetting("machine_id", id)
}
