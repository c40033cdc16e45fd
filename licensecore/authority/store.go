package authority

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"licensedesk/licensecore/internal/dbopt"
)

// Key prefixes of the Badger store. Device codes and refresh tokens are
// stored under a SHA-256 of the secret, so the database never holds a live
// credential in a usable form.
const (
	pOrg     = "org/"     // org ID → orgRecord
	pUser    = "user/"    // user name → userRecord
	pDevice  = "dev/"     // Server ID → deviceRecord
	pLicense = "lic/"     // license ID → licenseRecord
	pCode    = "code/"    // sha256(device_code) → codeRecord
	pRefresh = "refresh/" // sha256(refresh_token) → refreshRecord
	pIssued  = "issued/"  // jti → issuedRecord
	pKey     = "key/"     // kid → keyRecord
	kClients = "meta/clients"
)

type orgRecord struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type userRecord struct {
	Username string   `json:"username"`
	Orgs     []string `json:"orgs"`
	Hash     string   `json:"hash"`
}

// deviceRecord is a seeded device plus where it belongs; its License field
// stays nil (the license is stored on its own, under LicenseID).
type deviceRecord struct {
	DeviceSeed
	OrgID     string `json:"org"`
	LicenseID string `json:"licence_id"`
}

// licenseRecord is a seeded license plus the device it belongs to.
type licenseRecord struct {
	LicenseSeed
	ServerID string `json:"server_id"`
}

type codeStatus string

const (
	codePending  codeStatus = "pending"
	codeApproved codeStatus = "approved"
	codeDenied   codeStatus = "denied"
	codeRedeemed codeStatus = "redeemed"
)

type codeRecord struct {
	Hash        string     `json:"hash"`
	UserCode    string     `json:"user_code"`
	ClientID    string     `json:"client_id"`
	DeviceName  string     `json:"device_name,omitempty"`
	InstallCode string     `json:"install_code,omitempty"`
	IssuedAt    time.Time  `json:"issued_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	Interval    int64      `json:"interval"`
	Status      codeStatus `json:"status"`
	ServerID    string     `json:"server_id,omitempty"`
	DecidedBy   string     `json:"decided_by,omitempty"`
}

type refreshRecord struct {
	ServerID  string    `json:"server_id"`
	ClientID  string    `json:"client_id"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Used      bool      `json:"used,omitempty"`
}

type issuedRecord struct {
	JTI       string    `json:"jti"`
	ServerID  string    `json:"server_id"`
	LicenseID string    `json:"licence_id"`
	Kid       string    `json:"kid"`
	Grant     string    `json:"grant"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type keyRecord struct {
	Kid       string    `json:"kid"`
	Seed      []byte    `json:"seed"`
	CreatedAt time.Time `json:"created_at"`
	// RetireAt is zero for the active key; a rotated-out key stays published
	// until RetireAt, when every token it signed has expired.
	RetireAt time.Time `json:"retire_at,omitzero"`
}

// openBadger opens the store with the desktop-sized options of DESIGN.md §4.
func openBadger(dir string, log zerolog.Logger) (*badger.DB, error) {
	opts := dbopt.Options(dir, log)
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%w: %s", ErrAlreadyRunning, dir)
		}
		return nil, fmt.Errorf("authority: open store %s: %w", dir, err)
	}
	return db, nil
}

func getJSON(txn *badger.Txn, key string, v any) error {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(val []byte) error { return json.Unmarshal(val, v) })
}

// setJSON writes v under key; a positive ttl lets Badger drop the entry
// once it can no longer matter.
func setJSON(txn *badger.Txn, key string, v any, ttl time.Duration) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e := badger.NewEntry([]byte(key), data)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	return txn.SetEntry(e)
}

// scanJSON decodes every value under prefix into a fresh T and hands it to fn.
func scanJSON[T any](txn *badger.Txn, prefix string, fn func(*T) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v := new(T)
		if err := it.Item().Value(func(val []byte) error { return json.Unmarshal(val, v) }); err != nil {
			return fmt.Errorf("%s: %w", it.Item().Key(), err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}
