package licensecore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Customer account errors.
var (
	ErrInvalidCustomerID = errors.New("not a valid Customer ID")
	ErrUnknownCustomer   = errors.New("the authorization server does not know this Customer ID")
	ErrNoCustomerID      = errors.New("no Customer ID is set for this server; enter the one from the partner page")
	ErrCustomerInUse     = errors.New("this server holds cloud licenses of its current customer; transfer them to the cloud before changing the Customer ID")
)

// CustomerIDError is a Customer ID that is not a UUID. Its message is the
// sentence the account screen shows.
type CustomerIDError struct{ Input string }

func (e *CustomerIDError) Error() string {
	return fmt.Sprintf("%q is not a valid Customer ID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", e.Input)
}

// Unwrap exposes ErrInvalidCustomerID.
func (e *CustomerIDError) Unwrap() error { return ErrInvalidCustomerID }

// Account is the customer account screen: this server's install code
// (grouped XXXX-XXXX-XXXX-XXXX), its name, and the Customer ID it draws
// cloud licenses for (empty until set; CustomerName is the authority's name
// for it, learnt when it was checked).
type Account struct {
	InstallCode  string
	ServerName   string
	CustomerID   string
	CustomerName string
}

// customerRecord is the stored Customer ID.
type customerRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CheckedAt time.Time `json:"checked_at"`
}

// Store keys of the account and the pool.
const (
	keyCustomer   = "pool/customer"   // customerRecord
	keyInstallKey = "pool/installkey" // sealed Ed25519 seed of this installation
)

// ParseCustomerID accepts a UUID in the canonical 8-4-4-4-12 form, in any
// case and with surrounding spaces, and returns it in lower case. The nil
// UUID is refused.
func ParseCustomerID(s string) (string, error) {
	id := strings.ToLower(strings.TrimSpace(s))
	if len(id) != 36 || id == "00000000-0000-0000-0000-000000000000" {
		return "", &CustomerIDError{Input: s}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", &CustomerIDError{Input: s}
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return "", &CustomerIDError{Input: s}
			}
		}
	}
	return id, nil
}

// Account returns what the customer account screen shows.
func (m *Manager) Account() (Account, error) {
	code, err := m.installCode()
	if err != nil {
		return Account{}, err
	}
	a := Account{InstallCode: code, ServerName: m.opts.DeviceName}
	if a.ServerName == "" {
		m.mu.Lock()
		if m.lic != nil {
			a.ServerName = m.lic.DeviceName
		}
		m.mu.Unlock()
	}
	var rec customerRecord
	switch err := m.store.getJSON(keyCustomer, &rec); {
	case err == nil:
		a.CustomerID, a.CustomerName = rec.ID, rec.Name
	case !errors.Is(err, ErrNotFound):
		return Account{}, err
	}
	return a, nil
}

// SetCustomerID validates id, checks it with the authority and stores it.
// It needs an administrator. Changing to another customer is refused with
// ErrCustomerInUse while this server holds (or is still returning) cloud
// licenses of the current one.
func (m *Manager) SetCustomerID(ctx context.Context, sess *AdminSession, id string) (Account, error) {
	if err := m.requireAdmin(sess); err != nil {
		return Account{}, err
	}
	canon, err := ParseCustomerID(id)
	if err != nil {
		return Account{}, err
	}
	m.pool.mu.Lock()
	defer m.pool.mu.Unlock()
	c, _, _ := m.parts()
	var ans CustomerAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+"/customers/"+url.PathEscape(canon), nil)
	if err != nil {
		return Account{}, err
	}
	if _, err := c.poolDo(req, &ans); err != nil {
		return Account{}, err
	}
	if ans.CustomerID != canon {
		return Account{}, fmt.Errorf("%w: asked for customer %s, got %q", ErrAuthorityBroken, canon, ans.CustomerID)
	}
	cur, err := m.Account()
	if err != nil {
		return Account{}, err
	}
	if cur.CustomerID != "" && cur.CustomerID != canon {
		busy, err := m.poolBusy()
		if err != nil {
			return Account{}, err
		}
		if busy {
			return Account{}, ErrCustomerInUse
		}
	}
	now := m.clock.Now()
	if err := m.store.putJSON(keyCustomer, customerRecord{ID: canon, Name: ans.Name, CheckedAt: now}); err != nil {
		return Account{}, err
	}
	m.audit(EventCustomerSet, fmt.Sprintf("customer %s (%s) by %s", canon, ans.Name, sess.User()))
	return m.Account()
}

// installCode is Options.InstallCode, or the code derived from this PC's
// machine identifier.
func (m *Manager) installCode() (string, error) {
	if m.opts.InstallCode != "" {
		return m.opts.InstallCode, nil
	}
	id, err := MachineID(m.store)
	if err != nil {
		return "", err
	}
	return InstallCode(id), nil
}

// installKeyLabel prefixes the sealed seed, so that no other sealed value
// of the store can pass for it.
const installKeyLabel = "licensedesk install key v1\x00"

// installKey loads this installation's signing key, making and storing it
// on first use. The caller holds m.pool.mu.
func (m *Manager) installKey() (ed25519.PrivateKey, error) {
	sealed, err := m.store.get(keyInstallKey)
	if err == nil {
		plain, err := m.store.open(sealed)
		if err != nil {
			return nil, err
		}
		seed, ok := bytes.CutPrefix(plain, []byte(installKeyLabel))
		if !ok || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: the installation key is damaged", ErrStoreCorrupt)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	if sealed, err = m.store.seal(append([]byte(installKeyLabel), seed...)); err != nil {
		return nil, err
	}
	if err := m.store.put(keyInstallKey, sealed); err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
