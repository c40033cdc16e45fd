package licensecore

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"licensedesk/licensecore/internal/sealbox"

	"github.com/zalando/go-keyring"
)

// Secrets keeps License Desk's two keys outside its data directory where
// the PC allows it, so that a copied data directory gives its new owner
// nothing usable: the store key (SecretStoreKey) and the installation's
// signing key (SecretInstallKey).
type Secrets interface {
	// Get returns the named secret; ErrNotStored when there is none.
	Get(name string) ([]byte, error)
	// Set stores the named secret, replacing any earlier value.
	Set(name string, value []byte) error
	// Kind says where the secrets live, for Settings: "Secret Service",
	// "Credential Manager", "Keychain" or SecretsKindFile.
	Kind() string
}

// Names of the secrets.
const (
	SecretStoreKey   = "store-key"   // the store's 32-byte encryption key
	SecretInstallKey = "install-key" // the installation's Ed25519 seed
)

// SecretsKindFile is the Kind of FileSecrets: no credential store, the keys
// are in a file sealed to this PC (Settings warns about it).
const SecretsKindFile = "file"

// How long a credential store may take to answer. A locked keyring may
// wait for a person to unlock it; past this the call fails (its goroutine
// is left to finish on its own, as go-keyring cannot be cancelled).
const (
	osSecretsTimeout = 15 * time.Second
	probeTimeout     = 10 * time.Second
)

// OSSecrets keeps secrets in the operating system's credential store
// (Secret Service on Linux, Credential Manager on Windows, Keychain on
// macOS) under service, one item per name, named account/name. Values are
// base64, as go-keyring stores strings. Two data directories on one PC need
// two accounts.
func OSSecrets(service, account string) Secrets {
	return osSecrets{service: service, account: account}
}

type osSecrets struct{ service, account string }

func (o osSecrets) user(name string) string {
	if o.account == "" {
		return name
	}
	return o.account + "/" + name
}

func (o osSecrets) Kind() string { return osSecretsKind() }

func (o osSecrets) Get(name string) ([]byte, error) {
	if err := sessionBusReachable(); err != nil {
		return nil, err
	}
	enc, err := withTimeout(osSecretsTimeout, func() (string, error) { return keyring.Get(o.service, o.user(name)) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s in the %s", ErrNotStored, name, o.Kind())
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from the %s: %w", name, o.Kind(), err)
	}
	val, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s in the %s is not base64", ErrStoreCorrupt, name, o.Kind())
	}
	return val, nil
}

func (o osSecrets) Set(name string, value []byte) error {
	if err := sessionBusReachable(); err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(value)
	_, err := withTimeout(osSecretsTimeout, func() (struct{}, error) {
		return struct{}{}, keyring.Set(o.service, o.user(name), enc)
	})
	if err != nil {
		return fmt.Errorf("write %s to the %s: %w", name, o.Kind(), err)
	}
	return nil
}

// ProbeOSSecrets tells whether the PC's credential store works for service:
// it stores, reads back and deletes a probe item. On error the app keeps
// its keys in FileSecrets instead.
func ProbeOSSecrets(service string) error {
	if err := sessionBusReachable(); err != nil {
		return err
	}
	user, want := "probe-"+randomHex(8), randomHex(16)
	_, err := withTimeout(probeTimeout, func() (struct{}, error) {
		if err := keyring.Set(service, user, want); err != nil {
			return struct{}{}, fmt.Errorf("store a probe item: %w", err)
		}
		got, err := keyring.Get(service, user)
		delErr := keyring.Delete(service, user)
		switch {
		case err != nil:
			return struct{}{}, fmt.Errorf("read the probe item back: %w", err)
		case got != want:
			return struct{}{}, errors.New("the probe item came back changed")
		case delErr != nil:
			return struct{}{}, fmt.Errorf("delete the probe item: %w", delErr)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("the %s is not usable: %w", osSecretsKind(), err)
	}
	return nil
}

func osSecretsKind() string {
	switch runtime.GOOS {
	case "windows":
		return "Credential Manager"
	case "darwin", "ios":
		return "Keychain"
	}
	return "Secret Service"
}

// sessionBusReachable guards the Secret Service: without a session bus,
// godbus would start one with dbus-launch and leave it running.
func sessionBusReachable() error {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		return nil
	}
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	run := fmt.Sprintf("/run/user/%d", os.Getuid())
	for _, f := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(run, f)); err == nil {
			return nil
		}
	}
	return errors.New("no D-Bus session bus, so no Secret Service")
}

// withTimeout runs f, giving up after d.
func withTimeout[T any](d time.Duration, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, fmt.Errorf("no answer within %s", d)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// SecretsFileName is FileSecrets' file in the data directory, beside (not
// inside) the store directory.
const SecretsFileName = "secrets.sealed"

// The sealed file: magic, a random salt (new on every write), a GCM nonce,
// then the sealed JSON object of name → value (nonce and sealed object
// wrapped by sealLocal: DPAPI on Windows). The AES-256 key is
// HKDF-SHA256 of the machine id and the salt; magic and salt are
// authenticated too.
var secretsMagic = []byte("LDSECRETS1\n")

const (
	secretsSaltLen = 32
	secretsInfo    = "licensedesk secrets v1"
)

// FileSecrets keeps secrets in dir/secrets.sealed (mode 0600, replaced
// atomically; on Windows sealed with DPAPI for the account too), sealed with a key derived from machineID: a copy on a PC
// with another machine id opens to nothing (ErrSecretsForeign). The
// machine id is readable by anyone on the PC, so this guards against a
// copied folder only, not against another user of the same PC: it is the
// fallback where the PC has no credential store.
func FileSecrets(dir, machineID string) Secrets {
	return &fileSecrets{path: filepath.Join(dir, SecretsFileName), machine: machineID}
}

type fileSecrets struct {
	path    string
	machine string
	mu      sync.Mutex // serialises read-modify-write within the process
}

func (f *fileSecrets) Kind() string { return SecretsKindFile }

func (f *fileSecrets) Get(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all, err := f.load()
	if err != nil {
		return nil, err
	}
	v, ok := all[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s in %s", ErrNotStored, name, f.path)
	}
	return v, nil
}

func (f *fileSecrets) Set(name string, value []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A file that does not open is never overwritten: on this PC it may
	// be damaged but still worth recovering.
	all, err := f.load()
	if err != nil {
		return err
	}
	all[name] = bytes.Clone(value)
	plain, err := json.Marshal(all)
	if err != nil {
		return err
	}
	salt := make([]byte, secretsSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	aead, err := f.aead(salt)
	if err != nil {
		return err
	}
	head := append(bytes.Clone(secretsMagic), salt...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	body, err := sealLocal(aead.Seal(bytes.Clone(nonce), nonce, plain, head))
	if err != nil {
		return err
	}
	out := append(head, body...)
	if err := WriteFileAtomic(f.path, out); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

func (f *fileSecrets) aead(salt []byte) (cipher.AEAD, error) {
	if f.machine == "" {
		return nil, errors.New("no machine id to seal the secrets file with")
	}
	return sealbox.AEAD([]byte(f.machine), salt, secretsInfo)
}

// load reads and opens the file; an absent file holds nothing.
func (f *fileSecrets) load() (map[string][]byte, error) {
	raw, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path, err)
	}
	headLen := len(secretsMagic) + secretsSaltLen
	if !bytes.HasPrefix(raw, secretsMagic) || len(raw) < headLen {
		return nil, fmt.Errorf("%w: %s is not a License Desk secrets file", ErrStoreCorrupt, f.path)
	}
	aead, err := f.aead(raw[len(secretsMagic):headLen])
	if err != nil {
		return nil, err
	}
	rest, err := openLocal(raw[headLen:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSecretsForeign, f.path, err)
	}
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: %s is truncated", ErrStoreCorrupt, f.path)
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], raw[:headLen])
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not open with this PC's machine id (it was copied from another PC, or is damaged)", ErrSecretsForeign, f.path)
	}
	all := map[string][]byte{}
	if err := json.Unmarshal(plain, &all); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStoreCorrupt, f.path, err)
	}
	return all, nil
}

// ReadFileShared reads a file that another process replaces with
// WriteFileAtomic, such as the agent's status file: on Windows it opens
// the file so that the replace may go ahead under it, and a read that
// meets the replace is tried again.
func ReadFileShared(path string) ([]byte, error) {
	var data []byte
	err := whileBusy(func() error {
		f, err := openShared(path)
		if err != nil {
			return err
		}
		defer f.Close()
		data, err = io.ReadAll(f)
		return err
	})
	return data, err
}

// whileBusy runs op until it succeeds, fails for a reason other than the
// file being busy (replaceBusy), or has been busy for about a second.
func whileBusy(op func() error) error {
	for i := 0; ; i++ {
		err := op()
		if err == nil || !replaceBusy(err) || i == 40 {
			return err
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WriteFileAtomic replaces path with data: a temporary file in the same
// directory (mode 0600), synced, then renamed over path, then the
// directory synced, so a crash leaves the old file or the new one.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = whileBusy(func() error { return os.Rename(f.Name(), path) }); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // not supported everywhere (Windows); the rename is done
		d.Close()
	}
	return nil
}

// CopySecrets copies each named secret that src holds and dst lacks into
// dst, and checks that those both hold are equal (else an error, and
// nothing is overwritten). The app uses it to move the keys a data
// directory kept in FileSecrets, while the PC had no credential store,
// into the credential store.
func CopySecrets(dst, src Secrets, names ...string) error {
	for _, name := range names {
		v, err := src.Get(name)
		if errors.Is(err, ErrNotStored) {
			continue
		}
		if err != nil {
			return err
		}
		have, err := dst.Get(name)
		switch {
		case err == nil:
			if !bytes.Equal(have, v) {
				return fmt.Errorf("the %s and the %s hold different values of %s", dst.Kind(), src.Kind(), name)
			}
		case errors.Is(err, ErrNotStored):
			if err := dst.Set(name, v); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// storeKeyFromSecrets returns the store key kept in sec, nil when there is
// none.
func storeKeyFromSecrets(sec Secrets) ([]byte, error) {
	key, err := sec.Get(SecretStoreKey)
	if errors.Is(err, ErrNotStored) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the store key from the %s: %w", sec.Kind(), err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: the store key in the %s has %d bytes, want 32", ErrStoreCorrupt, sec.Kind(), len(key))
	}
	return key, nil
}

// installKeyLabel prefixes the sealed seed kept in the store (when there
// are no Secrets), so that no other sealed value of the store can pass for
// it.
const installKeyLabel = "licensedesk install key v1\x00"

// InstallKey returns this installation's Ed25519 signing key (the key of
// its DPoP proofs and pool calls), making it on first use. With Secrets
// (StoreOptions.Secrets) it lives there, and a key an earlier version kept
// in the store moves there; without, it stays sealed in the store. Safe for
// concurrent use.
func (s *Store) InstallKey() (ed25519.PrivateKey, error) {
	s.ikMu.Lock()
	defer s.ikMu.Unlock()
	if s.ik != nil {
		return s.ik, nil
	}
	var seed []byte
	var err error
	if s.secrets == nil {
		seed, err = s.installSeedInStore(true)
	} else {
		seed, err = s.installSeedInSecrets()
	}
	if err != nil {
		return nil, err
	}
	s.ik = ed25519.NewKeyFromSeed(seed)
	return s.ik, nil
}

// installSeedInStore reads the seed sealed in the store; when there is
// none it makes and stores one if create, else returns nil.
func (s *Store) installSeedInStore(create bool) ([]byte, error) {
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
		return seed, nil
	}
	if !errors.Is(err, ErrNotStored) {
		return nil, err
	}
	if !create {
		return nil, nil
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
	return seed, nil
}

// installSeedInSecrets reads the seed from s.secrets, moving one kept in
// the store by an earlier version there (and out of the store once it is
// stored), or making one.
func (s *Store) installSeedInSecrets() ([]byte, error) {
	kind := s.secrets.Kind()
	seed, err := s.secrets.Get(SecretInstallKey)
	switch {
	case err == nil:
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: the installation key in the %s has %d bytes, want %d", ErrStoreCorrupt, kind, len(seed), ed25519.SeedSize)
		}
	case errors.Is(err, ErrNotStored):
		seed = nil
	default:
		return nil, fmt.Errorf("read the installation key from the %s: %w", kind, err)
	}
	old, err := s.installSeedInStore(false)
	if err != nil {
		return nil, err
	}
	if seed == nil {
		if seed = old; seed == nil {
			seed = make([]byte, ed25519.SeedSize)
			if _, err := rand.Read(seed); err != nil {
				return nil, err
			}
		}
		if err := s.secrets.Set(SecretInstallKey, seed); err != nil {
			return nil, fmt.Errorf("store the installation key in the %s: %w", kind, err)
		}
	}
	switch {
	case old == nil:
	case bytes.Equal(old, seed):
		if err := s.delete(keyInstallKey); err != nil {
			s.log.Warn().Err(err).Msg("the installation key is in the " + kind + " now, but its old copy stays in the store")
		}
	default:
		s.log.Warn().Msg("the store holds another installation key than the " + kind + "; using the " + kind + "'s")
	}
	return seed, nil
}
