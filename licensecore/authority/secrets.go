package authority

// The authority's secrets at rest. The store key (32 bytes) encrypts the
// Badger directory, and with it the signing keys, refresh records and the
// answers kept for the refresh grace window; it also seals the root key
// file. It lives outside the data directory (Options.KeyFile) or in the
// environment (KeyEnv), so a copy of the data directory, or of the root key
// file, gives nothing usable.

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/internal/sealbox"
	"licensedesk/licensecore/wire"
)

// KeyEnv is the environment variable that, when set, holds the store key
// (32 bytes, base64url without padding) in place of Options.KeyFile: for
// deployments that keep secrets in a vault or a service manager.
const KeyEnv = "LICENSEDESK_AUTHORITY_KEY"

const (
	storeKeySize = 32
	rootFormat   = "licensedesk-authority-root"
	rootSealInfo = "licensedesk authority root seal v1"
)

// storeKey returns the key that encrypts the store and seals the root key:
// KeyEnv when set, else o.KeyFile. With create, a missing key file is made,
// unless the data directory already holds a store (its key would then be
// lost, not new).
func storeKey(o *Options, log zerolog.Logger, create bool) ([]byte, error) {
	if v := os.Getenv(KeyEnv); v != "" {
		key, err := decodeStoreKey(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrStoreKey, KeyEnv, err)
		}
		return key, nil
	}
	data, err := os.ReadFile(o.KeyFile)
	switch {
	case err == nil:
		key, err := decodeStoreKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrStoreKey, o.KeyFile, err)
		}
		warnIfShared(o.KeyFile, log)
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %v", ErrStoreKey, err)
	case !create:
		return nil, fmt.Errorf("%w: %s does not exist and %s is not set", ErrStoreKey, o.KeyFile, KeyEnv)
	case storeExists(o.DataDir):
		return nil, fmt.Errorf("%w: the data directory %s holds a store but its key file %s is missing; restore the key file or set %s (a directory an older authority wrote without encryption cannot be opened: start a new one)",
			ErrStoreKey, o.DataDir, o.KeyFile, KeyEnv)
	}
	key := make([]byte, storeKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := writeNewFile(o.KeyFile, []byte(base64.RawURLEncoding.EncodeToString(key)+"\n")); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStoreKey, err)
	}
	log.Info().Str("file", o.KeyFile).Msg("store key created; back it up apart from the data directory")
	return key, nil
}

func decodeStoreKey(s string) ([]byte, error) {
	key, err := wire.DecodeSegment(strings.TrimSpace(s))
	if err != nil || len(key) != storeKeySize {
		return nil, fmt.Errorf("not %d bytes of base64url", storeKeySize)
	}
	return key, nil
}

// storeExists reports whether dir already holds a Badger store.
func storeExists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "MANIFEST"))
	return err == nil
}

// warnIfShared logs a secret file that others than its owner may read.
func warnIfShared(path string, log zerolog.Logger) {
	if runtime.GOOS == "windows" {
		return // no POSIX modes; the ACL of the folder decides
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn().Str("file", path).Str("mode", fi.Mode().Perm().String()).Msg("secret file is readable by others than its owner; chmod 600 it")
	}
}

// writeNewFile writes a secret file that must not exist yet, readable by
// its owner only.
func writeNewFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// rootFile is the root key file: the root's public key in clear, and its
// seed sealed with AES-256-GCM under a key derived from the store key.
type rootFile struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	PublicKey string `json:"public_key"`
	Nonce     string `json:"nonce"`
	Sealed    string `json:"sealed"`
}

func rootAEAD(storeKey []byte) (cipher.AEAD, error) {
	return sealbox.AEAD(storeKey, nil, rootSealInfo)
}

// aad binds the sealed seed to its file's public key.
func (f *rootFile) aad() []byte {
	return []byte(fmt.Sprintf("%s\n%d\n%s", f.Format, f.Version, f.PublicKey))
}

// createRoot makes a new root key and writes its file; an existing file is
// never overwritten (ErrRootExists).
func createRoot(path string, storeKey []byte) (ed25519.PrivateKey, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrRootExists, path)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	aead, err := rootAEAD(storeKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	f := rootFile{Format: rootFormat, Version: 1, PublicKey: wire.EncodeRootKey(pub), Nonce: base64.RawURLEncoding.EncodeToString(nonce)}
	f.Sealed = base64.RawURLEncoding.EncodeToString(aead.Seal(nil, nonce, priv.Seed(), f.aad()))
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeNewFile(path, append(data, '\n')); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrRootExists, path)
		}
		return nil, fmt.Errorf("authority: write root key: %w", err)
	}
	return priv, nil
}

// openRoot reads and unseals the root key file.
func openRoot(path string, storeKey []byte) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f rootFile
	if err := json.Unmarshal(data, &f); err != nil || f.Format != rootFormat || f.Version != 1 {
		return nil, fmt.Errorf("%w: %s is not a version 1 root key file", ErrBadRootFile, path)
	}
	pub, err := wire.ParseRootKey(f.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadRootFile, path, err)
	}
	nonce, err1 := wire.DecodeSegment(f.Nonce)
	sealed, err2 := wire.DecodeSegment(f.Sealed)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: %s: nonce or sealed key is not base64url", ErrBadRootFile, path)
	}
	aead, err := rootAEAD(storeKey)
	if err != nil {
		return nil, err
	}
	if len(nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("%w: %s: bad nonce", ErrBadRootFile, path)
	}
	seed, err := aead.Open(nil, nonce, sealed, f.aad())
	if err != nil {
		return nil, fmt.Errorf("%w: it does not open the root key file %s (check the key file or %s)", ErrWrongKey, path, KeyEnv)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: %s: the sealed key is not an Ed25519 seed", ErrBadRootFile, path)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !pub.Equal(priv.Public()) {
		return nil, fmt.Errorf("%w: %s: the sealed key is not the file's public key", ErrBadRootFile, path)
	}
	return priv, nil
}

// loadRoot opens the root key, creating it on a first start. A store that
// exists without its root is refused: a new root silently made would make
// every installation that pinned the old one refuse this authority.
func loadRoot(o *Options, storeKey []byte, firstStart bool, log zerolog.Logger) (ed25519.PrivateKey, error) {
	priv, err := openRoot(o.RootKeyFile, storeKey)
	switch {
	case err == nil:
		return priv, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case !firstStart:
		return nil, fmt.Errorf("%w: %s is missing but the data directory %s is not new; restore the root key file, or make a new root with `authority root init` (every installation must then pin it)",
			ErrNoRoot, o.RootKeyFile, o.DataDir)
	}
	if priv, err = createRoot(o.RootKeyFile, storeKey); err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	log.Info().Str("file", o.RootKeyFile).Str("root", wire.EncodeRootKey(pub)).Str("fingerprint", wire.Fingerprint(pub)).
		Msg("root key created; configure License Desk with this root public key")
	return priv, nil
}

// InitRoot creates the root key file of a deployment (`authority root
// init`) and returns its public key. It refuses to overwrite an existing
// root (ErrRootExists). It needs the store key (KeyEnv or Options.KeyFile,
// made if missing), not the store itself, so it may run before the first
// start. Only DataDir, KeyFile, RootKeyFile and Logger of opts are used.
func InitRoot(opts Options) (ed25519.PublicKey, error) {
	return withStoreKey(opts, true, func(o *Options, key []byte) (ed25519.PrivateKey, error) {
		return createRoot(o.RootKeyFile, key)
	})
}

// ReadRoot opens the root key file with the store key and returns the
// root's public key (`authority root show`). Only DataDir, KeyFile,
// RootKeyFile and Logger of opts are used.
func ReadRoot(opts Options) (ed25519.PublicKey, error) {
	return withStoreKey(opts, false, func(o *Options, key []byte) (ed25519.PrivateKey, error) {
		priv, err := openRoot(o.RootKeyFile, key)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist; create it with `authority root init`", ErrNoRoot, o.RootKeyFile)
		}
		return priv, err
	})
}

// withStoreKey runs fn on the root key file with the store key, outside
// a Server, and returns the public key of the root fn gives back.
func withStoreKey(opts Options, create bool, fn func(o *Options, key []byte) (ed25519.PrivateKey, error)) (ed25519.PublicKey, error) {
	if err := opts.fileDefaults(); err != nil {
		return nil, err
	}
	key, err := storeKey(&opts, opts.Logger, create)
	if err != nil {
		return nil, err
	}
	priv, err := fn(&opts, key)
	if err != nil {
		return nil, err
	}
	return priv.Public().(ed25519.PublicKey), nil
}
