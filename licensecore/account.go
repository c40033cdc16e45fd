package licensecore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"licensedesk/licensecore/wire"
)

// Account is the customer account screen: this server's install code
// (grouped XXXX-XXXX-XXXX-XXXX), its name, and the Customer ID it draws
// cloud licenses for (empty until set; CustomerName is the authority's name
// for it, learnt when it was checked).
type Account struct {
	InstallCode  string `json:"install_code"`
	ServerName   string `json:"server_name"`
	CustomerID   string `json:"customer_id"`
	CustomerName string `json:"customer_name"`
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

// Account returns what the customer account screen shows.
func (p *Pool) Account() (Account, error) {
	code, err := p.installCode()
	if err != nil {
		return Account{}, err
	}
	a := Account{InstallCode: code, ServerName: p.mgr.opts.DeviceName}
	if a.ServerName == "" {
		if l := p.mgr.lic.Load(); l != nil {
			a.ServerName = l.DeviceName
		}
	}
	var rec customerRecord
	switch err := p.store.getJSON(keyCustomer, &rec); {
	case err == nil:
		a.CustomerID, a.CustomerName = rec.ID, rec.Name
	case !errors.Is(err, ErrNotStored):
		return Account{}, err
	}
	return a, nil
}

// SetCustomerID validates id, checks it with the authority and stores it.
// It needs an administrator. Changing to another customer is refused with
// ErrCustomerInUse while this server holds (or is still returning) cloud
// licenses of the current one.
func (p *Pool) SetCustomerID(ctx context.Context, sess *AdminSession, id string) (Account, error) {
	if err := p.admins.Check(sess); err != nil {
		return Account{}, err
	}
	canon, err := wire.ParseCustomerID(id)
	if err != nil {
		return Account{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.mgr.Client()
	ans, err := c.Customer(ctx, canon)
	if err != nil {
		return Account{}, err
	}
	cur, err := p.Account()
	if err != nil {
		return Account{}, err
	}
	if cur.CustomerID != "" && cur.CustomerID != canon {
		busy, err := p.poolBusy()
		if err != nil {
			return Account{}, err
		}
		if busy {
			return Account{}, ErrCustomerInUse
		}
	}
	now := p.clock.Now()
	if err := p.store.putJSON(keyCustomer, customerRecord{ID: canon, Name: ans.Name, CheckedAt: now}); err != nil {
		return Account{}, err
	}
	p.audit.record(EventCustomerSet, fmt.Sprintf("customer %s (%s) by %s", canon, ans.Name, sess.User()))
	return p.Account()
}

// installCode is Options.InstallCode, or the code derived from this PC's
// machine identifier.
func (p *Pool) installCode() (string, error) {
	if p.mgr.opts.InstallCode != "" {
		return p.mgr.opts.InstallCode, nil
	}
	id, err := MachineID(p.store)
	if err != nil {
		return "", err
	}
	return InstallCode(id), nil
}

// installKey is this installation's signing key (Store.InstallKey: in
// the Secrets when the store has them, else sealed in the store).
func (p *Pool) installKey() (ed25519.PrivateKey, error) {
	return p.store.InstallKey()
}
