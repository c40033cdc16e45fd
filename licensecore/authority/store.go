package authority

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"licensedesk/licensecore/internal/dbopt"
	"licensedesk/licensecore/wire"
)

// Key prefixes of the Badger store. Device codes and refresh tokens are
// stored under a SHA-256 of the secret; the one live credential the store
// holds is the answer kept for the refresh grace window (pGrace), and the
// whole store is encrypted with the store key (secrets.go).
const (
	pOrg       = "org/"     // org ID → orgRecord
	pUser      = "user/"    // user name → userRecord
	pDevice    = "dev/"     // Server ID → deviceRecord
	pOrgDevice = "orgdev/"  // org ID "\x00" Server ID → nothing: an organization's devices (putDevice, orgDeviceList)
	pLicense   = "lic/"     // license ID → licenseRecord
	pCode      = "code/"    // sha256(device_code) → codeRecord
	pRefresh   = "refresh/" // sha256(refresh_token) → refreshRecord
	pIssued    = "issued/"  // jti → issuedRecord
	pKey       = "key/"     // kid → keyRecord
	pChain     = "chain/"   // chain ID → chainRecord
	pLive      = "live/"    // Server ID → ID of its live chain (JSON string)
	pGrace     = "grace/"   // chain ID → graceRecord
	kClients   = "meta/clients"
	// kOrgDeviceIndex marks a store whose pOrgDevice index is complete
	// (indexOrgDevices builds it once in a store written before it).
	kOrgDeviceIndex = "meta/orgdev-index"
)

type orgRecord struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type userRecord struct {
	Username string   `json:"username"`
	Orgs     []string `json:"orgs"`
	Hash     string   `json:"hash"`
	// Role is RoleVendor or RoleCustomer; a record stored before roles
	// existed has none and is a customer.
	Role Role `json:"role,omitempty"`
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
	// SubscriptionRenewal keeps a subscription's renewal date while the
	// license is switched to perpetual, so that switching back restores
	// it rather than granting a new term.
	SubscriptionRenewal time.Time `json:"subscription_renewal,omitzero"`
}

// expired reports whether the license is past its renewal date at now.
func (l *licenseRecord) expired(now time.Time) bool {
	return !l.RenewalDate.IsZero() && !now.Before(l.RenewalDate)
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
	// JKT is the thumbprint of the DPoP key that started the authorization,
	// if it sent a proof; only that key may redeem the code.
	JKT string `json:"jkt,omitempty"`
}

// refreshRecord is one refresh token of a chain. Every token of a chain is
// bound to the chain's DPoP key (JKT).
type refreshRecord struct {
	ServerID  string    `json:"server_id"`
	ClientID  string    `json:"client_id"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Used      bool      `json:"used,omitempty"`
	Chain     string    `json:"chain"`
	JKT       string    `json:"jkt"`
}

// chainRecord is the line of refresh tokens that one approval started.
// A Server ID has one live chain (pLive); an approval for another PC
// revokes the old one (moved), and so does the replay of a spent token
// (chain_revoked).
type chainRecord struct {
	ID          string      `json:"id"`
	ServerID    string      `json:"server_id"`
	JKT         string      `json:"jkt"`
	DeviceName  string      `json:"device_name,omitempty"`
	InstallCode string      `json:"install_code,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	Revoked     wire.Reason `json:"revoked,omitempty"` // wire.ReasonLicenseMoved or wire.ReasonChainRevoked
	RevokedAt   time.Time   `json:"revoked_at,omitzero"`
	MovedTo     string      `json:"moved_to,omitempty"` // the device name the new PC presented
}

// graceRecord is the answer of a chain's last rotation, kept so that the
// token it spent gets the same answer again, from the same key, until the
// new token is first used or the grace window ends, and a new pair after
// that window while the new token is still unused (answerLost).
type graceRecord struct {
	Spent  string         `json:"spent"` // secretHash of the refresh token the rotation spent
	JKT    string         `json:"jkt"`
	Until  time.Time      `json:"until"`
	Answer *tokenResponse `json:"answer"`
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
	// until RetireAt, when every token and license file it signed has
	// expired.
	RetireAt time.Time `json:"retire_at,omitzero"`
}

// openBadger opens the store, encrypted with key, with the desktop-sized
// options of DESIGN.md §4.
func openBadger(dir string, key []byte, log zerolog.Logger) (*badger.DB, error) {
	// The app's small memtables (8 MiB, for an agent's footprint) made a
	// busy authority build a table, and compact level 0, several times a
	// minute under the load test, on the cores that answer the devices;
	// Badger's default, 64 MiB, does it eight times less often (the load
	// test under attack, one core: p99 46-51 ms with 8 MiB, 34-36 ms with
	// 64 MiB, for about 100 MiB more RSS).
	db, err := badger.Open(dbopt.Options(dir, log).WithEncryptionKey(key).WithMemTableSize(64 << 20))
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, badger.ErrEncryptionKeyMismatch):
		return nil, fmt.Errorf("%w: it does not open the data directory %s (check the key file or %s; a directory written without encryption by an older authority cannot be opened either)",
			ErrWrongKey, dir, KeyEnv)
	case dbopt.InUse(err):
		return nil, fmt.Errorf("%w: %s", ErrAlreadyRunning, dir)
	}
	return nil, fmt.Errorf("authority: open store %s: %w", dir, err)
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

// jsonEntry is the entry of v under key; a positive ttl lets Badger drop
// it once it can no longer matter.
func jsonEntry(key string, v any, ttl time.Duration) (*badger.Entry, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	e := badger.NewEntry([]byte(key), data)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	return e, nil
}

// setJSON writes v under key; a positive ttl lets Badger drop the entry
// once it can no longer matter.
func setJSON(txn *badger.Txn, key string, v any, ttl time.Duration) error {
	e, err := jsonEntry(key, v, ttl)
	if err != nil {
		return err
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

func orgDeviceKey(orgID, serverID string) []byte {
	return []byte(pOrgDevice + orgID + "\x00" + serverID)
}

// putDevice writes dev and keeps the organization index in step: every
// write of a device record goes through it.
func putDevice(txn *badger.Txn, dev *deviceRecord) error {
	var old deviceRecord
	switch err := getJSON(txn, pDevice+dev.ServerID, &old); {
	case err == nil && old.OrgID != dev.OrgID:
		if err := txn.Delete(orgDeviceKey(old.OrgID, dev.ServerID)); err != nil {
			return err
		}
	case err != nil && !errors.Is(err, errNotFound):
		return err
	}
	if err := txn.Set(orgDeviceKey(dev.OrgID, dev.ServerID), nil); err != nil {
		return err
	}
	return setJSON(txn, pDevice+dev.ServerID, dev, 0)
}

// orgDeviceList is the devices of organization orgID, by Server ID.
func orgDeviceList(txn *badger.Txn, orgID string) ([]deviceRecord, error) {
	prefix := []byte(pOrgDevice + orgID + "\x00")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var devices []deviceRecord
	for it.Rewind(); it.Valid(); it.Next() {
		var d deviceRecord
		if err := getJSON(txn, pDevice+string(it.Item().Key()[len(prefix):]), &d); err != nil {
			return nil, err
		}
		devices = append(devices, d)
	}
	return devices, nil
}

// indexOrgDevices builds the organization index of a store written before
// it had one, once. Nothing else writes yet (New calls it before serving);
// the marker is written last, so an index cut short is built again.
func indexOrgDevices(db *badger.DB) error {
	var writes []func(*badger.Txn) error
	built := false
	err := db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get([]byte(kOrgDeviceIndex)); err == nil {
			built = true
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return scanJSON(txn, pDevice, func(d *deviceRecord) error {
			key := orgDeviceKey(d.OrgID, d.ServerID)
			writes = append(writes, func(txn *badger.Txn) error { return txn.Set(key, nil) })
			return nil
		})
	})
	if err != nil || built {
		return err
	}
	writes = append(writes, func(txn *badger.Txn) error { return txn.Set([]byte(kOrgDeviceIndex), nil) })
	return updateInBatches(db, writes)
}

// updateInBatches runs writes in order, as many to a Badger transaction as
// it holds: when one does not fit, the transaction so far is committed and
// the write runs again in a new one. Each write must be an upsert that may
// run twice, as a partly applied one is then run again whole.
func updateInBatches(db *badger.DB, writes []func(*badger.Txn) error) error {
	txn := db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, w := range writes {
		err := w(txn)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = txn.Commit(); err != nil {
				return err
			}
			txn = db.NewTransaction(true)
			err = w(txn)
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}
