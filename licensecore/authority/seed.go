package authority

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"licensedesk/licensecore/wire"
)

// Seed is the authority's initial data, usually read from a JSON file
// (LoadSeed). Seeding is an upsert: running it again resets the seeded
// records and keeps everything else (issued tokens, codes, keys).
type Seed struct {
	// Clients are extra OAuth client ids to accept besides Options.ClientIDs.
	Clients       []string           `json:"clients,omitempty"`
	Organizations []OrganizationSeed `json:"organizations"`
}

// OrganizationSeed is one customer organization with its users and devices.
// A user listed in several organizations belongs to all of them.
type OrganizationSeed struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Users   []UserSeed   `json:"users"`
	Devices []DeviceSeed `json:"devices"`
	// Customers and their cloud pools (pool.go); optional.
	Customers []CustomerSeed `json:"customers,omitempty"`
}

// UserSeed is a person who signs in on the pages. Give Password (hashed
// with argon2id on seeding) or an existing argon2id PasswordHash. Role is
// RoleVendor for the license vendor's staff; empty or RoleCustomer for a
// customer's user (roles.go).
type UserSeed struct {
	Username     string `json:"username"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Role         Role   `json:"role,omitempty"`
}

// DeviceSeed is a POS server that can be licensed.
type DeviceSeed struct {
	ServerID      string       `json:"server_id"`
	Name          string       `json:"name"`
	InstallCode   string       `json:"install_code,omitempty"`
	HubServerName string       `json:"hub_server_name,omitempty"`
	HubServerURL  string       `json:"hub_server_url,omitempty"`
	Features      []string     `json:"features,omitempty"`
	License       *LicenseSeed `json:"licence,omitempty"`
}

// LicenseSeed is the license of one device. RenewalDate is RFC 3339 in
// JSON and optional.
type LicenseSeed struct {
	ID            string           `json:"id"`
	Type          wire.LicenseType `json:"type"`
	Customer      string           `json:"customer,omitempty"`
	Capacity      int              `json:"capacity,omitempty"`
	RenewalDate   time.Time        `json:"renewal_date,omitzero"`
	TransactionID string           `json:"transaction_id,omitempty"`
	Revoked       bool             `json:"revoked,omitempty"`
	// Entitlements beyond the device's features (issue 5); optional.
	Modules       []string `json:"modules,omitempty"`
	Users         int      `json:"users,omitempty"`
	AccountNumber string   `json:"account_number,omitempty"`
	SerialNumber  string   `json:"serial_number,omitempty"`
}

// The demo login printed by `authority -demo` and shown by the app's demo
// mode: vendor staff, so that one login shows every page (approving
// license changes included). The demo authority listens on loopback only.
const (
	DemoOrganization = "demo-retail"
	DemoUsername     = "demo"
	DemoPassword     = "demo-licence"
)

// DemoSeed is one organization, one user and two devices with licenses
// (a subscription with the xms feature, renewing in a year, and a perpetual
// one). extra devices join the organization; one without a License gets a
// demo subscription license.
func DemoSeed(extra ...DeviceSeed) Seed {
	renewal := time.Now().UTC().AddDate(1, 0, 0).Truncate(24 * time.Hour)
	devices := []DeviceSeed{
		{
			ServerID: "POS-0001-MAIN", Name: "Main Street Store", InstallCode: "MS-4821",
			HubServerName: "hub-east", HubServerURL: "https://hub-east.example.com", Features: []string{"xms", "loyalty"},
			License: &LicenseSeed{ID: "LIC-1001", Type: wire.Subscription, Customer: "Demo Retail Ltd",
				Capacity: 8, RenewalDate: renewal, TransactionID: "TXN-2024-0001"},
		},
		{
			ServerID: "POS-0002-HARBOUR", Name: "Harbour Kiosk", HubServerName: "hub-east",
			HubServerURL: "https://hub-east.example.com", Features: []string{},
			License: &LicenseSeed{ID: "LIC-1002", Type: wire.Perpetual, Customer: "Demo Retail Ltd",
				Capacity: 2, TransactionID: "TXN-2024-0002"},
		},
	}
	for _, d := range extra {
		if d.License == nil {
			d.License = &LicenseSeed{ID: "LIC-" + d.ServerID, Type: wire.Subscription, Customer: "Demo Retail Ltd",
				Capacity: 4, RenewalDate: renewal, TransactionID: "TXN-DEMO-" + d.ServerID}
		}
		devices = append(devices, d)
	}
	return Seed{Organizations: []OrganizationSeed{{
		ID: DemoOrganization, Name: "Demo Retail Ltd",
		Users:   []UserSeed{{Username: DemoUsername, Password: DemoPassword, Role: RoleVendor}},
		Devices: devices,
		// A customer with a cloud pool (pool.go).
		Customers: []CustomerSeed{demoCustomer()},
	}}}
}

// LoadSeed reads a seed file; unknown fields are an error so typos show.
func LoadSeed(path string) (Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Seed{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return Seed{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		return Seed{}, fmt.Errorf("%w: %s: %v", ErrInvalidSeed, path, err)
	}
	return seed, nil
}

// Seed validates the whole of seed, then writes it: in one transaction
// when it fits, else in several (updateInBatches).
func (s *Server) Seed(seed Seed) error {
	return s.guard(func() error { return s.seed(seed) })
}

func (s *Server) seed(seed Seed) error {
	users, err := s.seedUsers(seed)
	if err != nil {
		return err
	}
	orgs, devices, licenses, err := seedRecords(seed)
	if err != nil {
		return err
	}
	customers, pool, err := seedPool(seed, s.now())
	if err != nil {
		return err
	}
	// Every write is an upsert of one record (or of a device and its
	// index entry): a fleet's seed is larger than one Badger transaction
	// holds, so they are written as many to a transaction as fit, and a
	// seed cut short is completed by seeding it again.
	writes := []func(*badger.Txn) error{func(txn *badger.Txn) error {
		var clients []string
		if err := getJSON(txn, kClients, &clients); err != nil && !errors.Is(err, errNotFound) {
			return err
		}
		for _, c := range seed.Clients {
			if !slices.Contains(clients, c) {
				clients = append(clients, c)
			}
		}
		return setJSON(txn, kClients, clients, 0)
	}}
	put := func(key string, v any) func(*badger.Txn) error {
		return func(txn *badger.Txn) error { return setJSON(txn, key, v, 0) }
	}
	for _, o := range orgs {
		writes = append(writes, put(pOrg+o.ID, o))
	}
	for _, u := range users {
		writes = append(writes, put(pUser+u.Username, u))
	}
	for _, d := range devices {
		writes = append(writes, func(txn *badger.Txn) error { return putDevice(txn, &d) })
	}
	for _, l := range licenses {
		writes = append(writes, put(pLicense+l.ID, l))
	}
	writes = append(writes, func(txn *badger.Txn) error { return putPoolSeed(txn, customers, pool) })
	err = updateInBatches(s.db, writes)
	if err != nil {
		return fmt.Errorf("authority: seed: %w", err)
	}
	s.clientsMu.Lock()
	for _, c := range seed.Clients {
		s.clients[c] = true
	}
	s.clientsMu.Unlock()
	s.log.Info().Int("organizations", len(orgs)).Int("users", len(users)).Int("devices", len(devices)).Msg("seeded")
	return nil
}

// seedUsers merges users across organizations and hashes their passwords.
func (s *Server) seedUsers(seed Seed) ([]*userRecord, error) {
	var users []*userRecord
	byName := map[string]*userRecord{}
	for _, o := range seed.Organizations {
		for _, u := range o.Users {
			if u.Username == "" || (u.Password == "" && u.PasswordHash == "") {
				return nil, fmt.Errorf("%w: organization %q: a user needs a username and a password", ErrInvalidSeed, o.ID)
			}
			role, err := u.Role.normalize()
			if err != nil {
				return nil, err
			}
			if rec := byName[u.Username]; rec != nil {
				if rec.Role != role {
					return nil, fmt.Errorf("%w: user %q is listed with two roles", ErrInvalidSeed, u.Username)
				}
				rec.Orgs = append(rec.Orgs, o.ID)
				continue
			}
			hash := u.PasswordHash
			if u.Password != "" {
				var err error
				if hash, err = hashPassword(u.Password, s.opts.Argon2); err != nil {
					return nil, err
				}
			} else if _, err := checkPassword(hash, ""); err != nil {
				return nil, fmt.Errorf("%w: user %q: password_hash is not argon2id", ErrInvalidSeed, u.Username)
			}
			rec := &userRecord{Username: u.Username, Orgs: []string{o.ID}, Hash: hash, Role: role}
			byName[u.Username] = rec
			users = append(users, rec)
		}
	}
	return users, nil
}

// seedRecords validates organizations, devices and licenses.
func seedRecords(seed Seed) ([]orgRecord, []deviceRecord, []licenseRecord, error) {
	var orgs []orgRecord
	var devices []deviceRecord
	var licenses []licenseRecord
	seen := map[string]bool{}
	once := func(kind, id string) error {
		if id == "" {
			return fmt.Errorf("%w: a %s without an id", ErrInvalidSeed, kind)
		}
		if seen[kind+"\x00"+id] {
			return fmt.Errorf("%w: %s %q appears twice", ErrInvalidSeed, kind, id)
		}
		seen[kind+"\x00"+id] = true
		return nil
	}
	for _, o := range seed.Organizations {
		if err := once("organization", o.ID); err != nil {
			return nil, nil, nil, err
		}
		orgs = append(orgs, orgRecord{ID: o.ID, Name: orDefault(o.Name, o.ID)})
		for _, d := range o.Devices {
			if err := once("device", d.ServerID); err != nil {
				return nil, nil, nil, err
			}
			dev := deviceRecord{DeviceSeed: d, OrgID: o.ID}
			dev.Name, dev.Features, dev.License = orDefault(d.Name, d.ServerID), append([]string{}, d.Features...), nil
			if l := d.License; l != nil {
				lic := licenseRecord{LicenseSeed: *l, ServerID: d.ServerID}
				lic.ID = orDefault(l.ID, "LIC-"+d.ServerID)
				if !l.RenewalDate.IsZero() {
					lic.RenewalDate = l.RenewalDate.UTC()
				}
				if lic.Type != wire.Perpetual && lic.Type != wire.Subscription {
					return nil, nil, nil, fmt.Errorf("%w: license %q: type must be perpetual or subscription", ErrInvalidSeed, lic.ID)
				}
				if err := once("license", lic.ID); err != nil {
					return nil, nil, nil, err
				}
				dev.LicenseID = lic.ID
				licenses = append(licenses, lic)
			}
			devices = append(devices, dev)
		}
	}
	return orgs, devices, licenses, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
