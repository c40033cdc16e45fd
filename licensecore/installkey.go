package licensecore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
)

// installKeyLabel prefixes the sealed seed, so that no other sealed value
// of the store can pass for it.
const installKeyLabel = "licensedesk install key v1\x00"

// InstallKey loads this installation's own Ed25519 key, making and storing
// it on first use: it proves possession of the refresh token (DPoP) and
// signs cloud-pool requests.
func (s *Store) InstallKey() (ed25519.PrivateKey, error) {
	s.instMu.Lock()
	defer s.instMu.Unlock()
	sealed, err := s.get(keyInstallKey)
	if err == nil {
		plain, err := s.open(sealed)
		if err != nil {
			return nil, err
		}
		seed, ok := bytes.CutPrefix(plain, []byte(installKeyLabel))
		if !ok || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: the installation key is damaged", ErrStoreCorrupt)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, ErrNotStored) {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	if sealed, err = s.seal(append([]byte(installKeyLabel), seed...)); err != nil {
		return nil, err
	}
	if err := s.put(keyInstallKey, sealed); err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
