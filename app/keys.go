package app

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
)

// keyringService names License Desk's items in the credential store.
const keyringService = "License Desk"

// keysInPlainFile is keyPlace.kind when the PC has neither a credential
// store nor a machine id: the store key is in the store's plain key file.
const keysInPlainFile = "plain file"

// keyPlace is where the store key and the installation key live.
type keyPlace struct {
	secrets licensecore.Secrets // nil: the store's plain key file
	// sealed is the data directory's sealed file, when its keys were
	// copied into the credential store: removed once the store has opened.
	sealed     licensecore.Secrets
	sealedPath string
}

var keyNames = []string{licensecore.SecretStoreKey, licensecore.SecretInstallKey}

// chooseKeys picks the credential store when it works, else a file sealed
// to this PC, with a warning in the log (Settings shows the kind). Keys a
// data directory kept in the sealed file, while the PC had no credential
// store, are copied into the credential store.
func chooseKeys(dataDir string, log zerolog.Logger) keyPlace {
	machine, idErr := licensecore.MachineIDFromOS()
	probeErr := licensecore.ProbeOSSecrets(keyringService)
	if probeErr == nil {
		p := keyPlace{secrets: licensecore.OSSecrets(keyringService, keyringAccount(dataDir))}
		log.Info().Msg("the keys are kept in the " + p.secrets.Kind())
		sealedPath := filepath.Join(dataDir, licensecore.SecretsFileName)
		if _, err := os.Stat(sealedPath); err != nil || idErr != nil {
			return p
		}
		sealed := licensecore.FileSecrets(dataDir, machine)
		if err := licensecore.CopySecrets(p.secrets, sealed, keyNames...); err != nil {
			log.Warn().Err(err).Msg("the keys stay in the file sealed to this PC")
			return keyPlace{secrets: sealed}
		}
		p.sealed, p.sealedPath = sealed, sealedPath
		return p
	}
	if idErr != nil {
		log.Warn().Err(probeErr).AnErr("machine_id", idErr).Msg("no credential store and no machine id; keeping the store key in a plain file")
		return keyPlace{}
	}
	log.Warn().Err(probeErr).Msg("no credential store; keeping the keys in a file sealed to this PC")
	return keyPlace{secrets: licensecore.FileSecrets(dataDir, machine)}
}

// opened removes the sealed file whose keys moved to the credential store,
// once the store has opened (so this process alone uses them) and every
// key of the file is checked to be there.
func (p keyPlace) opened(log zerolog.Logger) {
	if p.sealed == nil {
		return
	}
	if err := licensecore.CopySecrets(p.secrets, p.sealed, keyNames...); err != nil {
		log.Warn().Err(err).Msg("the file sealed to this PC stays")
		return
	}
	if err := os.Remove(p.sealedPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn().Err(err).Msg("the keys are in the " + p.secrets.Kind() + " now, but the file sealed to this PC stays")
		return
	}
	log.Info().Msg("the keys moved from the file sealed to this PC to the " + p.secrets.Kind())
}

// kind is what Settings shows: "Secret Service", "Credential Manager",
// "Keychain", licensecore.SecretsKindFile or keysInPlainFile.
func (p keyPlace) kind() string {
	if p.secrets == nil {
		return keysInPlainFile
	}
	return p.secrets.Kind()
}

// keyringAccount names a data directory's items: two data directories of
// one user must not share keys.
func keyringAccount(dataDir string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	sum := sha256.Sum256([]byte(filepath.Clean(dataDir)))
	return "data-" + hex.EncodeToString(sum[:8])
}

// appListening tells whether an agent runs on dataDir: its socket
// answers (nothing is sent).
func appListening(dataDir string) bool {
	conn, err := dialLocal(filepath.Join(dataDir, agentSocket), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
