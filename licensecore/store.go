package licensecore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"licensedesk/licensecore/internal/dbopt"
)

// SchemaVersion is the store layout this build writes. Version 2 moved the
// administrator accounts from op/ and opfail/ to admin/user/ and
// admin/fail/, so that no prefix of the store is a prefix of another group
// (pool/op/ holds pool operations). Version 3 dropped the unsigned key set
// (lic/jwks) for the root-signed one (trust/keyset) and the pinned root.
const SchemaVersion = 3

// builtinMigrations upgrade stores written by earlier versions; they run
// before StoreOptions.Migrations of the same version.
var builtinMigrations = []Migration{{From: 1, Run: moveAdminKeys}, {From: 2, Run: dropUnsignedKeySet}}

// dropUnsignedKeySet is the 2 → 3 migration: the key set pinned by earlier
// versions (lic/jwks) was never signed by a root, so it is not trusted any
// more; the root-signed set is fetched again at the next contact.
func dropUnsignedKeySet(txn *badger.Txn) error {
	err := txn.Delete([]byte("lic/jwks"))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	return err
}

// moveAdminKeys is the 1 → 2 migration: op/<user> → admin/user/<user>,
// opfail/<user> → admin/fail/<user>, values unchanged.
func moveAdminKeys(txn *badger.Txn) error {
	for _, mv := range [][2]string{{"op/", prefixAdmin}, {"opfail/", prefixAdminFail}} {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(mv[0])})
		var keys [][]byte
		var vals [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				it.Close()
				return err
			}
			keys, vals = append(keys, it.Item().KeyCopy(nil)), append(vals, v)
		}
		it.Close()
		for i, k := range keys {
			if err := txn.Set(append([]byte(mv[1]), k[len(mv[0]):]...), vals[i]); err != nil {
				return err
			}
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Store keys. Grouped by prefix so a future migration can scan one group.
const (
	keySchema   = "meta/schema"
	keyLicense  = "lic/license"
	keyToken    = "lic/token"
	keyRefresh  = "lic/refresh"
	keyKeySet   = "trust/keyset" // the authority's key set as signed by the root (a JWS)
	keyRoot     = "trust/root"   // the pinned root public key
	keyClock    = "clock/high"
	keySwitch   = "lic/switch"  // pending perpetual/subscription switch
	keyPending  = "lic/pending" // a received token pair not verified yet (sealed)
	prefixSet   = "set/"
	prefixNote  = "notified/"
	prefixAudit = "audit/e/"
	keyAuditTop = "audit/head"
	// Offline licensing (offline.go): the pending challenge, and every
	// license file and response code applied, so none applies twice.
	keyChallenge = "offline/challenge"
	prefixUsed   = "offline/used/"
)

// Migration upgrades the store from version From to From+1 inside one
// transaction.
type Migration struct {
	From int
	Run  func(txn *badger.Txn) error
}

// StoreOptions configure OpenStore.
type StoreOptions struct {
	// Dir is the Badger directory, e.g. <config dir>/licensedesk/store.
	Dir string
	// KeyFile holds the 32-byte encryption key; default Dir + ".key",
	// beside the store. It is created with mode 0600 on first run (on
	// Windows sealed with DPAPI for the account instead). With
	// Secrets it holds the key only until the store has opened with it and
	// the key is in Secrets: an earlier version's key moves there, and a
	// new store's key is made here (O_EXCL, so two first runs agree on
	// one key) before it moves.
	KeyFile string
	// Secrets, when set, keeps the store key (SecretStoreKey) and the
	// installation key (SecretInstallKey, see Store.InstallKey) outside
	// the data directory. A store whose key is in neither Secrets nor
	// KeyFile does not open (ErrStoreKeyMissing).
	Secrets Secrets
	Logger  zerolog.Logger
	// Migrations run in order of From when the stored schema is older.
	Migrations []Migration
	// GCInterval is how often value-log GC runs (default 10 minutes).
	GCInterval time.Duration
}

// Store is License Desk's encrypted on-disk state. Every write is synced
// before it returns. Methods after Close return ErrClosed.
type Store struct {
	db     *badger.DB
	aead   cipher.AEAD
	log    zerolog.Logger
	mu     sync.RWMutex // write-locked only by Close
	shut   bool
	stop   chan struct{}
	gcDone chan struct{}
	audit  sync.Mutex // serialises audit appends

	secrets Secrets            // nil: the install key is sealed in the store
	ikMu    sync.Mutex         // guards ik
	ik      ed25519.PrivateKey // the installation key, once loaded
}

// OpenStore opens (creating if needed) the store. A second process gets
// ErrAlreadyRunning.
func OpenStore(opts StoreOptions) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("store directory is not set")
	}
	if opts.KeyFile == "" {
		opts.KeyFile = filepath.Clean(opts.Dir) + ".key"
	}
	if opts.GCInterval <= 0 {
		opts.GCInterval = 10 * time.Minute
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	var db *badger.DB
	var key []byte
	var err error
	if opts.Secrets != nil {
		db, key, err = openWithSecrets(opts)
	} else if key, err = loadOrCreateKey(opts.KeyFile); err == nil {
		if db, err = badger.Open(badgerOptions(opts.Dir, key, opts.Logger)); err != nil {
			err = mapOpenError(err)
		}
	}
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{db: db, aead: aead, log: opts.Logger, stop: make(chan struct{}), gcDone: make(chan struct{}), secrets: opts.Secrets}
	if err := s.migrate(append(slices.Clone(builtinMigrations), opts.Migrations...)); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.compact()
	go s.gcLoop(opts.GCInterval)
	return s, nil
}

func badgerOptions(dir string, key []byte, log zerolog.Logger) badger.Options {
	return dbopt.Quiet(dir, log).WithEncryptionKey(key)
}

func mapOpenError(err error) error {
	switch msg := err.Error(); {
	case errors.Is(err, badger.ErrEncryptionKeyMismatch):
		return fmt.Errorf("%w: %w", ErrStoreCorrupt, err)
	// Badger wraps the lock failure and its checksum errors with %+v, not
	// %w, so only their words identify them (dbopt.InUse: per platform).
	case dbopt.InUse(err):
		return fmt.Errorf("%w (the license store is in use by another process)", ErrAlreadyRunning)
	case strings.Contains(msg, "checksum"), strings.Contains(msg, "corrupt"):
		return fmt.Errorf("%w: %v", ErrStoreCorrupt, err)
	}
	return fmt.Errorf("open license store: %w", err)
}

// openWithSecrets opens the store whose key is in opts.Secrets, or still
// in opts.KeyFile (an earlier version's store, or a first run), and then
// moves the key into Secrets: the file goes only after the store has
// opened with its key and Secrets has stored it.
func openWithSecrets(opts StoreOptions) (*badger.DB, []byte, error) {
	kind := opts.Secrets.Kind()
	inSecrets, err := storeKeyFromSecrets(opts.Secrets)
	if err != nil {
		return nil, nil, err
	}
	inFile, err := readKeyFile(opts.KeyFile)
	if (errors.Is(err, ErrStoreCorrupt) || errors.Is(err, ErrStoreKeyMissing)) && inSecrets != nil {
		opts.Logger.Warn().Err(err).Msg("the store key is in the " + kind + "; the damaged key file is ignored")
		inFile, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if inSecrets == nil && inFile == nil {
		// Another process may have moved the key meanwhile.
		if inSecrets, err = storeKeyFromSecrets(opts.Secrets); err != nil {
			return nil, nil, err
		}
	}
	if inSecrets == nil && inFile == nil {
		entries, err := os.ReadDir(opts.Dir)
		if err != nil {
			return nil, nil, fmt.Errorf("read store directory: %w", err)
		}
		if len(entries) > 0 {
			// A copied data directory, or keys kept elsewhere before: a new
			// key would not open this store, so none is made.
			return nil, nil, fmt.Errorf("%w: neither the %s nor %s has it", ErrStoreKeyMissing, kind, opts.KeyFile)
		}
		if inFile, err = loadOrCreateKey(opts.KeyFile); err != nil {
			return nil, nil, err
		}
	}
	tries := [][]byte{inSecrets, inFile}
	if inSecrets == nil || bytes.Equal(inSecrets, inFile) {
		tries = tries[1:]
	} else if inFile == nil {
		tries = tries[:1]
	}
	var db *badger.DB
	var key []byte
	for i, k := range tries {
		db, err = badger.Open(badgerOptions(opts.Dir, k, opts.Logger))
		if err == nil {
			key = k
			break
		}
		if i == len(tries)-1 || !errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return nil, nil, mapOpenError(err)
		}
	}
	if !bytes.Equal(key, inSecrets) {
		if err := opts.Secrets.Set(SecretStoreKey, key); err != nil {
			opts.Logger.Warn().Err(err).Msg("the store key stays in " + opts.KeyFile + ": the " + kind + " did not take it")
			return db, key, nil
		}
	}
	switch {
	case inFile == nil:
	case bytes.Equal(inFile, key):
		if err := os.Remove(opts.KeyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			opts.Logger.Warn().Err(err).Msg("the store key is in the " + kind + " now, but its old file stays")
		}
	default:
		opts.Logger.Warn().Msg(opts.KeyFile + " does not open the store; it is left as it is")
	}
	return db, key, nil
}

// readKeyFile returns the key in path, nil when there is no such file.
func readKeyFile(path string) ([]byte, error) {
	key, err := readLocalKey(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	case len(key) != 32:
		return nil, fmt.Errorf("%w: key file %s has %d bytes, want 32", ErrStoreCorrupt, path, len(key))
	}
	return key, nil
}

// readLocalKey reads the key file and opens it (sealLocal).
func readLocalKey(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read store key: %w", err)
	}
	key, err := openLocal(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStoreKeyMissing, path, err)
	}
	return key, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	key, err := readLocalKey(path)
	switch {
	case err == nil:
		if len(key) != 32 {
			return nil, fmt.Errorf("%w: key file %s has %d bytes, want 32", ErrStoreCorrupt, path, len(key))
		}
		return key, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: two first runs racing must not each write a different key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create store key: %w", err)
	}
	sealed, err := sealLocal(key)
	if err == nil {
		_, err = f.Write(sealed)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

func (s *Store) migrate(migs []Migration) error {
	return s.db.Update(func(txn *badger.Txn) error {
		v := 0
		item, err := txn.Get([]byte(keySchema))
		switch {
		case err == nil:
			raw, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if v, err = strconv.Atoi(string(raw)); err != nil {
				return fmt.Errorf("%w: schema version %q", ErrStoreCorrupt, raw)
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if v > SchemaVersion {
			return fmt.Errorf("%w (version %d, this build knows %d)", ErrSchemaTooNew, v, SchemaVersion)
		}
		for ; v < SchemaVersion; v++ {
			for _, m := range migs {
				if m.From == v {
					if err := m.Run(txn); err != nil {
						return fmt.Errorf("migrate store from version %d: %w", v, err)
					}
				}
			}
		}
		return txn.Set([]byte(keySchema), []byte(strconv.Itoa(SchemaVersion)))
	})
}

// Schema returns the stored schema version.
func (s *Store) Schema() (int, error) {
	raw, err := s.get(keySchema)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(raw))
}

func (s *Store) gcLoop(every time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			for s.db.RunValueLogGC(0.5) == nil {
			}
			s.compact()
		}
	}
}

// compact keeps level 0 short: the store runs no compactor goroutines
// (dbopt.Quiet), so this timer and the open are when tables merge.
func (s *Store) compact() {
	if did, err := dbopt.CompactIfNeeded(s.db); err != nil {
		s.log.Warn().Err(err).Msg("license store compaction failed; retried on the next maintenance")
	} else if did {
		s.log.Debug().Msg("license store compacted")
	}
}

// Close stops the GC goroutine and closes Badger. Safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return nil
	}
	s.shut = true
	close(s.stop)
	<-s.gcDone
	return s.db.Close()
}

// view and update run fn unless the store is closed.
func (s *Store) view(fn func(*badger.Txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.shut {
		return ErrClosed
	}
	return s.db.View(fn)
}

func (s *Store) update(fn func(*badger.Txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.shut {
		return ErrClosed
	}
	return s.db.Update(fn)
}

func (s *Store) get(key string) ([]byte, error) {
	var out []byte
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotStored
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

func (s *Store) put(key string, val []byte) error {
	return s.update(func(txn *badger.Txn) error { return txn.Set([]byte(key), val) })
}

func (s *Store) getJSON(key string, v any) error {
	raw, err := s.get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrStoreCorrupt, key, err)
	}
	return nil
}

// Tokens is what the token endpoint gave us. The refresh token is sealed
// with AES-GCM before it reaches Badger (which is itself encrypted), so it
// is never on disk in clear even in a value log copied off the machine with
// its key file missing.
type Tokens struct {
	License string
	Refresh string
}

// SaveLicense stores the license, its tokens and the key set they were
// verified with in one transaction: either all of them or none.
func (s *Store) SaveLicense(l License, t Tokens, keySet string) error {
	write, err := s.licenseWrites(l, &t, keySet)
	if err != nil {
		return err
	}
	return s.update(write)
}

// licenseWrites prepares SaveLicense's writes for one transaction; a nil t
// keeps the stored tokens.
func (s *Store) licenseWrites(l License, t *Tokens, keySet string) (func(*badger.Txn) error, error) {
	lj, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if t != nil {
		if sealed, err = s.seal([]byte(t.Refresh)); err != nil {
			return nil, err
		}
	}
	return func(txn *badger.Txn) error {
		if err := txn.Set([]byte(keyLicense), lj); err != nil {
			return err
		}
		if t != nil {
			if err := txn.Set([]byte(keyToken), []byte(t.License)); err != nil {
				return err
			}
			if err := txn.Set([]byte(keyRefresh), sealed); err != nil {
				return err
			}
			if err := txn.Delete([]byte(keyPending)); err != nil {
				return err
			}
		}
		if keySet != "" {
			return txn.Set([]byte(keyKeySet), []byte(keySet))
		}
		return nil
	}, nil
}

// UpdateLicense replaces only the license record (local facts such as the
// last verify result).
func (s *Store) UpdateLicense(l License) error {
	lj, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return s.put(keyLicense, lj)
}

// License loads the stored license; ErrNotLicensed when there is none.
func (s *Store) License() (License, error) {
	var l License
	err := s.getJSON(keyLicense, &l)
	if errors.Is(err, ErrNotStored) {
		return l, ErrNotLicensed
	}
	return l, err
}

// Tokens loads the stored tokens; ErrNotLicensed when there are none.
func (s *Store) Tokens() (Tokens, error) {
	var t Tokens
	lic, err := s.get(keyToken)
	if errors.Is(err, ErrNotStored) {
		return t, ErrNotLicensed
	}
	if err != nil {
		return t, err
	}
	sealed, err := s.get(keyRefresh)
	if err != nil && !errors.Is(err, ErrNotStored) {
		return t, err
	}
	var ref []byte
	if len(sealed) > 0 {
		if ref, err = s.open(sealed); err != nil {
			return t, err
		}
	}
	return Tokens{License: string(lic), Refresh: string(ref)}, nil
}

// pendingPair is a token answer received but not verified yet, with the
// event it will be recorded as (EventAcquired, EventRefreshed).
type pendingPair struct {
	License string `json:"license"`
	Refresh string `json:"refresh"`
	Event   string `json:"event"`
}

// SavePending stores a token answer as soon as it arrives, before it is
// verified (sealed: it holds a refresh token). A verification that fails
// later (a key set that could not be fetched) then retries with this pair
// instead of spending a refresh token again; SaveLicense takes it over
// once verified. The stored tokens stay as they were until then, so an
// answer that turns out forged or garbled costs nothing.
func (s *Store) SavePending(t Tokens, event string) error {
	raw, err := json.Marshal(pendingPair{License: t.License, Refresh: t.Refresh, Event: event})
	if err != nil {
		return err
	}
	sealed, err := s.seal(raw)
	if err != nil {
		return err
	}
	return s.put(keyPending, sealed)
}

// Pending is the token answer SavePending stored and no SaveLicense has
// taken yet, and its event; ErrNotStored when there is none.
func (s *Store) Pending() (Tokens, string, error) {
	sealed, err := s.get(keyPending)
	if err != nil {
		return Tokens{}, "", err
	}
	raw, err := s.open(sealed)
	if err != nil {
		return Tokens{}, "", err
	}
	var p pendingPair
	if err := json.Unmarshal(raw, &p); err != nil {
		return Tokens{}, "", ErrStoreCorrupt
	}
	return Tokens{License: p.License, Refresh: p.Refresh}, p.Event, nil
}

// DeleteLicense removes the license and its tokens (the audit log and the
// pinned key set stay).
func (s *Store) DeleteLicense() error {
	return s.update(func(txn *badger.Txn) error {
		for _, k := range []string{keyLicense, keyToken, keyRefresh, keyPending} {
			if err := txn.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SaveKeySet stores the authority's root-signed key set (a JWS); callers
// verify it first.
func (s *Store) SaveKeySet(jws string) error { return s.put(keyKeySet, []byte(jws)) }

// KeySet loads the stored root-signed key set; ErrNotStored before the
// first contact with the authority or license file. Verify it with the
// pinned root before trusting it.
func (s *Store) KeySet() (string, error) {
	raw, err := s.get(keyKeySet)
	return string(raw), err
}

// PinRoot records the root key this store trusts.
func (s *Store) PinRoot(pub ed25519.PublicKey) error { return s.put(keyRoot, pub) }

// Root loads the pinned root key; ErrNotStored before the first start.
func (s *Store) Root() (ed25519.PublicKey, error) {
	raw, err := s.get(keyRoot)
	if err != nil {
		return nil, err
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the pinned root key is damaged", ErrStoreCorrupt)
	}
	return ed25519.PublicKey(raw), nil
}

// SetSetting stores one named setting.
func (s *Store) SetSetting(name, value string) error { return s.put(prefixSet+name, []byte(value)) }

// Setting loads one named setting; ErrNotStored when unset.
func (s *Store) Setting(name string) (string, error) {
	raw, err := s.get(prefixSet + name)
	return string(raw), err
}

// MarkNotified records that notification key was sent, and reports whether
// it had been sent before, atomically, so a threshold fires once across
// restarts.
func (s *Store) MarkNotified(key string, at time.Time) (already bool, err error) {
	err = s.update(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(prefixNote + key))
		if err == nil {
			already = true
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set([]byte(prefixNote+key), []byte(at.UTC().Format(time.RFC3339)))
	})
	return already, err
}

// ClearNotified forgets every sent notification whose key starts with
// prefix (after a refresh or a new license, thresholds start over).
func (s *Store) ClearNotified(prefix string) error {
	return s.update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixNote + prefix)})
		var keys [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) seal(plain []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(keyRefresh)), nil
}

func (s *Store) open(sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("%w: sealed refresh token too short", ErrStoreCorrupt)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(keyRefresh))
	if err != nil {
		return nil, fmt.Errorf("%w: refresh token: %v", ErrStoreCorrupt, err)
	}
	return plain, nil
}

// errStopScan ends a scan early without an error.

// scan calls fn for every key with prefix, in key order.
func (s *Store) scan(prefix string, fn func(key string, val []byte) error) error {
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			val, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(string(it.Item().Key()), val); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}

func (s *Store) delete(key string) error {
	return s.update(func(txn *badger.Txn) error { return txn.Delete([]byte(key)) })
}

// saveOffline stores a license refreshed offline in one transaction: the
// license (and tokens and key set when given), the used marker, refused
// when present (ErrEntitlementReplayed), and the end of the pending
// challenge.
func (s *Store) saveOffline(l License, t *Tokens, keySet string, used string, now time.Time) error {
	write, err := s.licenseWrites(l, t, keySet)
	if err != nil {
		return err
	}
	err = s.update(func(txn *badger.Txn) error {
		if _, err := txn.Get([]byte(prefixUsed + used)); err == nil {
			return fileRejected(ErrEntitlementReplayed, nil)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := write(txn); err != nil {
			return err
		}
		if err := txn.Set([]byte(prefixUsed+used), []byte(now.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		if t == nil { // a response code answers the pending challenge
			return txn.Delete([]byte(keyChallenge))
		}
		return nil
	})
	return err
}
