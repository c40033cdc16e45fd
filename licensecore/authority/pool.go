package authority

// Customers and their cloud pools (issue 6). A customer belongs to an
// organization and is named by a random UUID v4, its Customer ID, which a
// partner creates on /partner and types into License Desk. The pool holds
// the customer's device-capacity and maintenance licenses; installations
// list, activate and transfer them with requests signed by their own
// Ed25519 key (the protocol, authentication and receipts are described in
// licensecore/wire/pool.go); the same key makes each request's DPoP proof,
// and every answer is signed (trust.go).
//
// Every pool request runs in one Badger transaction, retried on a
// conflict: two installations racing for one license both read it, one
// commits, the other's transaction conflicts and on its retry finds the
// license taken. The answer of an activation or a transfer is kept under
// (install code, request id), so a repeated request gets the same answer
// and changes nothing.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"licensedesk/licensecore/wire"
)

// Key prefixes of customers and pools.
const (
	pCustomer = "cust/"   // customer ID → customerRecord
	pPool     = "pool/"   // customer ID + "/" + license ID → poolRecord
	pInstall  = "inst/"   // install code → installRecord
	pPoolOp   = "poolop/" // install code + "/" + request ID → poolOpRecord
	// pKeyChain indexes chains by their DPoP key: jkt + "/" + chain ID →
	// chain ID (JSON string), for licensedInstall.
	pKeyChain = "keychain/"
)

// Pool license states.
const (
	PoolAvailable = "available"
	PoolActive    = "active"
)

// CustomerSeed is a customer of an organization with its cloud pool. ID is
// its Customer ID, a UUID.
type CustomerSeed struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Pool []PoolLicenseSeed `json:"pool,omitempty"`
}

// PoolLicenseSeed is a license in a customer's pool: Kind "capacity" with
// Devices, or "maintenance" with MaintenanceUntil (RFC 3339 in JSON).
// Re-seeding keeps an activation: only the grant is updated.
type PoolLicenseSeed struct {
	ID               string        `json:"id"`
	Kind             wire.PoolKind `json:"kind"`
	Devices          int           `json:"devices,omitempty"`
	MaintenanceUntil time.Time     `json:"maintenance_until,omitzero"`
}

type customerRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	OrgID     string    `json:"org"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// PoolEntry is a license of a customer's pool as the authority sees it:
// available, or active on one installation.
type PoolEntry struct {
	wire.PoolLicense
	Description  string    `json:"description,omitempty"` // for the partner page
	CustomerID   string    `json:"customer_id"`
	State        string    `json:"state"` // PoolAvailable or PoolActive
	InstallCode  string    `json:"install_code,omitempty"`
	ServerName   string    `json:"server_name,omitempty"`
	ActivationID string    `json:"activation_id,omitempty"`
	ActivatedAt  time.Time `json:"activated_at,omitzero"`
}

// poolRecord is a PoolEntry plus the key the activation is bound to.
type poolRecord struct {
	PoolEntry
	HolderKey []byte `json:"holder_key,omitempty"`
}

type installRecord struct {
	InstallCode  string    `json:"install_code"`
	CustomerID   string    `json:"customer_id"`
	PublicKey    []byte    `json:"public_key"`
	ServerName   string    `json:"server_name,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
}

// poolOpRecord remembers the answer to one request id.
type poolOpRecord struct {
	Op           string    `json:"op"`
	LicenseID    string    `json:"licence_id"`
	ActivationID string    `json:"activation_id"`
	TransferDate time.Time `json:"transfer_date,omitzero"`
}

func poolKey(customerID, licenseID string) string { return pPool + customerID + "/" + licenseID }

// seedPool validates the seed's customers and pool licenses.
func seedPool(seed Seed, now time.Time) ([]customerRecord, []poolRecord, error) {
	var custs []customerRecord
	var pool []poolRecord
	seen := map[string]bool{}
	for _, o := range seed.Organizations {
		for _, c := range o.Customers {
			id, err := wire.ParseCustomerID(c.ID)
			if err != nil || seen["c"+id] {
				return nil, nil, fmt.Errorf("%w: organization %q: customer id %q is not a UUID or appears twice", ErrInvalidSeed, o.ID, c.ID)
			}
			seen["c"+id] = true
			custs = append(custs, customerRecord{ID: id, Name: orDefault(c.Name, id), OrgID: o.ID, CreatedAt: now.UTC()})
			for _, l := range c.Pool {
				pl := wire.PoolLicense{ID: l.ID, Kind: l.Kind, Devices: l.Devices, MaintenanceUntil: l.MaintenanceUntil.UTC()}
				if l.MaintenanceUntil.IsZero() {
					pl.MaintenanceUntil = time.Time{}
				}
				if err := pl.Validate(); err != nil || seen["l"+l.ID] {
					return nil, nil, fmt.Errorf("%w: customer %s: pool license %q: invalid or appears twice (%v)", ErrInvalidSeed, id, l.ID, err)
				}
				seen["l"+l.ID] = true
				pl.TransferDate = now.UTC()
				pool = append(pool, poolRecord{PoolEntry: PoolEntry{PoolLicense: pl, CustomerID: id, State: PoolAvailable}})
			}
		}
	}
	return custs, pool, nil
}

// putPoolSeed writes seeded customers and pool licenses; a license that
// exists keeps its state and holder.
func putPoolSeed(txn *badger.Txn, custs []customerRecord, pool []poolRecord) error {
	for _, c := range custs {
		var old customerRecord
		if err := getJSON(txn, pCustomer+c.ID, &old); err == nil {
			c.CreatedAt, c.CreatedBy = old.CreatedAt, old.CreatedBy
		}
		if err := setJSON(txn, pCustomer+c.ID, c, 0); err != nil {
			return err
		}
	}
	for _, p := range pool {
		var old poolRecord
		switch err := getJSON(txn, poolKey(p.CustomerID, p.ID), &old); {
		case err == nil:
			grant := p.PoolLicense
			p = old
			p.Kind, p.Devices, p.MaintenanceUntil = grant.Kind, grant.Devices, grant.MaintenanceUntil
		case !errors.Is(err, errNotFound):
			return err
		}
		if err := setJSON(txn, poolKey(p.CustomerID, p.ID), p, 0); err != nil {
			return err
		}
	}
	return nil
}

// DemoCustomerID is the demo seed's customer: its pool holds capacity
// licenses of 8, 4 and 2 devices and two maintenance licenses.
const DemoCustomerID = "de5a0c0d-e000-4000-8000-000000000001"

func demoCustomer() CustomerSeed {
	year := time.Now().UTC().Year()
	return CustomerSeed{ID: DemoCustomerID, Name: "Demo Retail Ltd", Pool: []PoolLicenseSeed{
		{ID: "POOL-CAP-8", Kind: wire.PoolCapacity, Devices: 8},
		{ID: "POOL-CAP-4", Kind: wire.PoolCapacity, Devices: 4},
		{ID: "POOL-CAP-2", Kind: wire.PoolCapacity, Devices: 2},
		{ID: "POOL-MNT-1", Kind: wire.PoolMaintenance, MaintenanceUntil: time.Date(year+1, 12, 31, 0, 0, 0, 0, time.UTC)},
		{ID: "POOL-MNT-2", Kind: wire.PoolMaintenance, MaintenanceUntil: time.Date(year+2, 12, 31, 0, 0, 0, 0, time.UTC)},
	}}
}

// NewCustomerID returns a random UUID v4 in canonical form.
func NewCustomerID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// CreateCustomer adds a customer to an organization and returns its new
// Customer ID, as the partner page does.
func (s *Server) CreateCustomer(orgID, name string) (string, error) {
	var id string
	err := s.guard(func() error {
		var err error
		id, err = s.createCustomer(orgID, name, "")
		return err
	})
	return id, err
}

func (s *Server) createCustomer(orgID, name, by string) (string, error) {
	id, err := NewCustomerID()
	if err != nil {
		return "", err
	}
	name = cleanLabel(name, 100)
	if name == "" {
		return "", errors.New("authority: a customer needs a name")
	}
	err = s.retryUpdate(func(txn *badger.Txn) error {
		var org orgRecord
		if err := getJSON(txn, pOrg+orgID, &org); err != nil {
			return fmt.Errorf("organization %q: %w", orgID, err)
		}
		if err := setJSON(txn, pCustomer+id, customerRecord{ID: id, Name: name, OrgID: orgID, CreatedAt: s.now().UTC(), CreatedBy: by}, 0); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: orDefault(by, ActorCLI), Action: AuditCustomer, Subject: id, Detail: name + " in " + org.Name})
	})
	if err != nil {
		return "", fmt.Errorf("authority: create customer: %w", err)
	}
	s.log.Info().Str("org", orgID).Str("customer", id).Str("by", by).Msg("customer created")
	return id, nil
}

// Pool lists a customer's pool licenses, available and active, by ID.
func (s *Server) Pool(customerID string) ([]PoolEntry, error) {
	var out []PoolEntry
	err := s.guard(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			var c customerRecord
			if err := getJSON(txn, pCustomer+customerID, &c); errors.Is(err, errNotFound) {
				return fmt.Errorf("%w: %q", ErrUnknownCustomer, customerID)
			} else if err != nil {
				return err
			}
			var err error
			out, err = poolEntries(txn, customerID)
			return err
		})
	})
	return out, err
}

func poolEntries(txn *badger.Txn, customerID string) ([]PoolEntry, error) {
	var out []PoolEntry
	err := scanJSON(txn, pPool+customerID+"/", func(p *poolRecord) error {
		p.Description = describe(p.PoolLicense)
		out = append(out, p.PoolEntry)
		return nil
	})
	return out, err
}

// registerPool adds the customer and pool endpoints and the partner pages.
func (s *Server) registerPool(mux *http.ServeMux) {
	mux.Handle("GET /customers/{id}", s.api(s.handleCustomerCheck))
	for _, op := range []string{wire.PoolOpList, wire.PoolOpHeld, wire.PoolOpActivate, wire.PoolOpTransfer} {
		mux.Handle("POST /pool/"+op, s.api(s.poolEndpoint(op)))
	}
	mux.HandleFunc("GET /partner", s.handlePartnerPage)
	mux.HandleFunc("POST /partner/customers", s.handleCreateCustomer)
	mux.HandleFunc("GET /partner/customers/{id}", s.handleCustomerPage)
}

func (s *Server) handleCustomerCheck(w http.ResponseWriter, r *http.Request) {
	id, err := wire.ParseCustomerID(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oerr(http.StatusBadRequest, wire.CodeInvalidRequest, err.Error()))
		return
	}
	var c customerRecord
	err = s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pCustomer+id, &c) })
	switch {
	case errors.Is(err, errNotFound):
		writeJSON(w, http.StatusNotFound, oerr(http.StatusNotFound, wire.CodeUnknownCustomer, "no customer has the Customer ID "+id))
	case err != nil:
		s.log.Error().Err(err).Msg("customer check")
		writeJSON(w, http.StatusInternalServerError, errServer)
	default:
		writeJSON(w, http.StatusOK, wire.CustomerAnswer{CustomerID: c.ID, Name: c.Name})
	}
}

// poolEndpoint serves one signed pool operation.
func (s *Server) poolEndpoint(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxPoolEnvelope))
		if err != nil {
			writeJSON(w, http.StatusRequestEntityTooLarge, oerr(http.StatusRequestEntityTooLarge, wire.CodeInvalidRequest, "request body too large"))
			return
		}
		req, err := wire.OpenPoolEnvelope(body)
		if err == nil && req.Op != op {
			err = fmt.Errorf("op %q sent to /pool/%s", req.Op, op)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, oerr(http.StatusBadRequest, wire.CodeInvalidRequest, err.Error()))
			return
		}
		// The DPoP key must be the install key that signed the envelope, so
		// the signed answer is bound to the installation that asked.
		if jkt := proofOf(r); jkt == "" || jkt != wire.JWKThumbprint(req.PublicKey) {
			e := keyMismatch(wire.CodeInvalidRequest, "a DPoP proof made with the installation's key (the envelope's public_key) is required")
			writeJSON(w, e.status, e)
			return
		}
		now := s.now()
		if e := s.freshEnvelope(req, body, now); e != nil {
			writeJSON(w, e.status, e)
			return
		}
		var ans any
		var refused *oauthError
		err = s.retryUpdate(func(txn *badger.Txn) error {
			var err error
			ans, refused, err = s.poolOp(txn, req, now)
			return err
		})
		switch {
		case err != nil:
			s.log.Error().Err(err).Str("op", op).Msg("pool request")
			writeJSON(w, http.StatusInternalServerError, errServer)
		case refused != nil:
			writeJSON(w, refused.status, refused)
		default:
			writeJSON(w, http.StatusOK, ans)
		}
	}
}

// poolOp answers one authenticated pool request inside txn.
func (s *Server) poolOp(txn *badger.Txn, req wire.PoolRequest, now time.Time) (any, *oauthError, error) {
	if refused, err := s.authInstall(txn, req, now); refused != nil || err != nil {
		return nil, refused, err
	}
	switch req.Op {
	case wire.PoolOpList, wire.PoolOpHeld:
		entries, err := poolEntries(txn, req.CustomerID)
		if err != nil {
			return nil, nil, err
		}
		if req.Op == wire.PoolOpList {
			ans := wire.PoolListAnswer{Licenses: []wire.PoolLicense{}}
			for _, e := range entries {
				if e.State == PoolAvailable {
					ans.Licenses = append(ans.Licenses, e.PoolLicense)
				}
			}
			return ans, nil, nil
		}
		ans := wire.PoolHeldAnswer{Activations: []wire.PoolActivation{}}
		for _, e := range entries {
			if e.State == PoolActive && e.InstallCode == req.InstallCode {
				ans.Activations = append(ans.Activations, e.activation())
			}
		}
		return ans, nil, nil
	case wire.PoolOpActivate:
		return s.poolActivate(txn, req, now)
	default:
		return s.poolTransfer(txn, req, now)
	}
}

func (e PoolEntry) activation() wire.PoolActivation {
	return wire.PoolActivation{License: e.PoolLicense, ActivationID: e.ActivationID, ActivatedAt: e.ActivatedAt}
}

// authInstall admits a request: the customer exists, and the install code
// is registered to the request's key and to this customer (moving it only
// when it holds nothing of the old one). The first request registers the
// install code to its key, and a move changes its customer, only when the
// key holds a license for that install (licensedInstall).
func (s *Server) authInstall(txn *badger.Txn, req wire.PoolRequest, now time.Time) (*oauthError, error) {
	var c customerRecord
	if err := getJSON(txn, pCustomer+req.CustomerID, &c); errors.Is(err, errNotFound) {
		return oerr(http.StatusNotFound, wire.CodeUnknownCustomer, "no customer has the Customer ID "+req.CustomerID), nil
	} else if err != nil {
		return nil, err
	}
	var inst installRecord
	err := getJSON(txn, pInstall+req.InstallCode, &inst)
	dirty := err != nil
	if errors.Is(err, errNotFound) || (err == nil && bytes.Equal(inst.PublicKey, req.PublicKey) && inst.CustomerID != req.CustomerID) {
		// Registering an install code, or moving it to another customer,
		// takes the proof that the key holds a license for that install.
		if refused, err := s.licensedInstall(txn, req, c, now); refused != nil || err != nil {
			return refused, err
		}
	}
	switch {
	case errors.Is(err, errNotFound):
		inst = installRecord{InstallCode: req.InstallCode, CustomerID: req.CustomerID, PublicKey: req.PublicKey, RegisteredAt: now.UTC()}
		s.log.Info().Str("install", req.InstallCode).Str("customer", req.CustomerID).Msg("installation registered")
	case err != nil:
		return nil, err
	case !bytes.Equal(inst.PublicKey, req.PublicKey):
		return oerr(http.StatusConflict, wire.CodeInstallConflict,
			"install code "+req.InstallCode+" is registered to another installation"), nil
	case inst.CustomerID != req.CustomerID:
		held, err := poolEntries(txn, inst.CustomerID)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(held, func(e PoolEntry) bool { return e.State == PoolActive && e.InstallCode == req.InstallCode }) {
			return oerr(http.StatusConflict, wire.CodeInstallBusy,
				"this installation still holds licenses of its previous customer"), nil
		}
		inst.CustomerID = req.CustomerID
		s.log.Info().Str("install", req.InstallCode).Str("customer", req.CustomerID).Msg("installation moved to another customer")
		dirty = true
	}
	name := cleanLabel(req.ServerName, 100)
	if !dirty && inst.ServerName == name {
		return nil, nil // nothing to write
	}
	inst.ServerName = name
	return nil, setJSON(txn, pInstall+req.InstallCode, inst, 0)
}

func (s *Server) poolActivate(txn *badger.Txn, req wire.PoolRequest, now time.Time) (any, *oauthError, error) {
	opKey := pPoolOp + req.InstallCode + "/" + req.RequestID
	key := poolKey(req.CustomerID, req.LicenseID)
	var rec poolRecord
	var op poolOpRecord
	switch err := getJSON(txn, opKey, &op); {
	case err == nil:
		if op.Op != req.Op || op.LicenseID != req.LicenseID {
			return nil, oerr(http.StatusBadRequest, wire.CodeInvalidRequest, "request_id was used for another request"), nil
		}
		// A repeat: the same answer while the activation lasts.
		if err := getJSON(txn, key, &rec); err != nil && !errors.Is(err, errNotFound) {
			return nil, nil, err
		}
		if rec.State == PoolActive && rec.ActivationID == op.ActivationID {
			return rec.activation(), nil, nil
		}
		return nil, oerr(http.StatusConflict, wire.CodeSuperseded, "this activation has since ended"), nil
	case !errors.Is(err, errNotFound):
		return nil, nil, err
	}
	switch err := getJSON(txn, key, &rec); {
	case errors.Is(err, errNotFound):
		return nil, oerr(http.StatusNotFound, wire.CodeUnknownLicense, "the customer's pool has no license "+req.LicenseID), nil
	case err != nil:
		return nil, nil, err
	}
	if rec.State != PoolAvailable {
		where := "another installation"
		if rec.InstallCode == req.InstallCode {
			where = "this installation"
		}
		return nil, oerr(http.StatusConflict, wire.CodeNotAvailable, "license "+req.LicenseID+" is already active on "+where), nil
	}
	actID, err := randomToken(16)
	if err != nil {
		return nil, nil, err
	}
	rec.State, rec.InstallCode, rec.ServerName = PoolActive, req.InstallCode, cleanLabel(req.ServerName, 100)
	rec.ActivationID, rec.ActivatedAt, rec.HolderKey = actID, now.UTC(), req.PublicKey
	if err := setJSON(txn, key, rec, 0); err != nil {
		return nil, nil, err
	}
	if err := setJSON(txn, opKey, poolOpRecord{Op: req.Op, LicenseID: req.LicenseID, ActivationID: actID}, 0); err != nil {
		return nil, nil, err
	}
	s.log.Info().Str("lid", req.LicenseID).Str("install", req.InstallCode).Str("activation", actID).Msg("pool license activated")
	return rec.activation(), nil, nil
}

// poolTransfer credits a license back on its holder's signed receipt.
func (s *Server) poolTransfer(txn *badger.Txn, req wire.PoolRequest, now time.Time) (any, *oauthError, error) {
	opKey := pPoolOp + req.InstallCode + "/" + req.RequestID
	var op poolOpRecord
	switch err := getJSON(txn, opKey, &op); {
	case err == nil:
		if op.Op != req.Op || op.LicenseID != req.LicenseID || op.ActivationID != req.ActivationID {
			return nil, oerr(http.StatusBadRequest, wire.CodeInvalidRequest, "request_id was used for another request"), nil
		}
		return wire.PoolTransferAnswer{LicenseID: op.LicenseID, TransferDate: op.TransferDate}, nil, nil
	case !errors.Is(err, errNotFound):
		return nil, nil, err
	}
	key := poolKey(req.CustomerID, req.LicenseID)
	var rec poolRecord
	switch err := getJSON(txn, key, &rec); {
	case errors.Is(err, errNotFound):
		return nil, oerr(http.StatusNotFound, wire.CodeUnknownLicense, "the customer's pool has no license "+req.LicenseID), nil
	case err != nil:
		return nil, nil, err
	}
	if rec.State != PoolActive || rec.InstallCode != req.InstallCode || rec.ActivationID != req.ActivationID ||
		!bytes.Equal(rec.HolderKey, req.PublicKey) {
		return nil, oerr(http.StatusConflict, wire.CodeNotHeld,
			"license "+req.LicenseID+" is not held by this installation under that activation"), nil
	}
	rec.PoolEntry = PoolEntry{PoolLicense: rec.PoolLicense, CustomerID: rec.CustomerID, State: PoolAvailable}
	rec.TransferDate, rec.HolderKey = now.UTC(), nil
	if err := setJSON(txn, key, rec, 0); err != nil {
		return nil, nil, err
	}
	op = poolOpRecord{Op: req.Op, LicenseID: req.LicenseID, ActivationID: req.ActivationID, TransferDate: rec.TransferDate}
	if err := setJSON(txn, opKey, op, 0); err != nil {
		return nil, nil, err
	}
	s.log.Info().Str("lid", req.LicenseID).Str("install", req.InstallCode).Str("activation", req.ActivationID).Msg("pool license returned")
	return wire.PoolTransferAnswer{LicenseID: req.LicenseID, TransferDate: rec.TransferDate}, nil, nil
}

// ---- partner pages ----

// partnerData feeds partner.html and pool.html.
type partnerData struct {
	pageData
	Customers []customerView
	Created   *customerRecord
	Customer  customerRecord
	Licenses  []PoolEntry
}

type customerView struct {
	customerRecord
	Available, Active int
}

func (s *Server) renderPartner(w http.ResponseWriter, status int, name string, d partnerData) {
	s.renderPage(w, status, name, d)
}

// partnerContext needs a signed-in user with a chosen organization,
// redirecting to /login or /org otherwise.
func (s *Server) partnerContext(w http.ResponseWriter, r *http.Request, sess session) (partnerData, bool) {
	u, ok := s.vendorOnly(w, r, sess)
	if !ok {
		return partnerData{}, false
	}
	if !s.memberOf(u, sess.org) {
		http.Redirect(w, r, "/org", http.StatusSeeOther)
		return partnerData{}, false
	}
	d := partnerData{pageData: pageData{Title: "Customers", CSRF: sess.csrf, User: sess.user, Vendor: true}}
	err := s.db.View(func(txn *badger.Txn) error {
		var org orgRecord
		if err := getJSON(txn, pOrg+sess.org, &org); err != nil {
			return err
		}
		d.OrgName = org.Name
		return scanJSON(txn, pCustomer, func(c *customerRecord) error {
			if c.OrgID != sess.org {
				return nil
			}
			v := customerView{customerRecord: *c}
			entries, err := poolEntries(txn, c.ID)
			for _, e := range entries {
				if e.State == PoolActive {
					v.Active++
				} else {
					v.Available++
				}
			}
			d.Customers = append(d.Customers, v)
			return err
		})
	})
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, sess, "Please try again.")
		return partnerData{}, false
	}
	slices.SortFunc(d.Customers, func(a, b customerView) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return d, true
}

func (s *Server) handlePartnerPage(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.currentSession(w, r, false)
	if d, ok := s.partnerContext(w, r, sess); ok {
		s.renderPartner(w, http.StatusOK, "partner", d)
	}
}

func (s *Server) handleCreateCustomer(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.postForm(w, r)
	if !ok {
		return
	}
	d, ok := s.partnerContext(w, r, sess)
	if !ok {
		return
	}
	name := cleanLabel(r.PostFormValue("name"), 100)
	if name == "" {
		d.Error = "Enter the customer's name."
		s.renderPartner(w, http.StatusBadRequest, "partner", d)
		return
	}
	id, err := s.createCustomer(sess.org, name, sess.user)
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, sess, "The customer could not be saved; please try again.")
		return
	}
	if d, ok = s.partnerContext(w, r, sess); !ok {
		return
	}
	d.Created = &customerRecord{ID: id, Name: name}
	s.renderPartner(w, http.StatusOK, "partner", d)
}

func (s *Server) handleCustomerPage(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.currentSession(w, r, false)
	d, ok := s.partnerContext(w, r, sess)
	if !ok {
		return
	}
	id := r.PathValue("id")
	k := slices.IndexFunc(d.Customers, func(c customerView) bool { return c.ID == id })
	if k < 0 {
		s.renderError(w, http.StatusNotFound, sess, "Your organization has no such customer.")
		return
	}
	d.Customer, d.Title = d.Customers[k].customerRecord, d.Customers[k].Name
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		d.Licenses, err = poolEntries(txn, id)
		return err
	})
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, sess, "Please try again.")
		return
	}
	s.renderPartner(w, http.StatusOK, "pool", d)
}

// describe is a pool license's grant as the partner page shows it.
func describe(l wire.PoolLicense) string {
	if l.Kind == wire.PoolMaintenance {
		return "Maintenance until " + l.MaintenanceUntil.UTC().Format("2 Jan 2006")
	}
	if l.Devices == 1 {
		return "1 device"
	}
	return fmt.Sprintf("%d devices", l.Devices)
}

// ---- admission of pool requests ----

// freshEnvelope refuses an envelope issued more than wire.MaxRequestAge
// from the authority's clock, either way, and a list or held request seen
// before (by its signature, within that window). Activations and transfers
// are idempotent by their request id: a repeat gets the recorded answer
// and changes nothing, so their repeats are answered, not refused.
func (s *Server) freshEnvelope(req wire.PoolRequest, body []byte, now time.Time) *oauthError {
	if age := now.Sub(req.IssuedAt); age > wire.MaxRequestAge || age < -wire.MaxRequestAge {
		return withReason(wire.CodeInvalidRequest, wire.ReasonStaleRequest, fmt.Sprintf(
			"the request was signed at %s, more than %s from the authority's time %s; check the PC's clock and send it again",
			req.IssuedAt.UTC().Format(time.RFC3339), wire.MaxRequestAge, now.UTC().Format(time.RFC3339)))
	}
	if req.Op != wire.PoolOpList && req.Op != wire.PoolOpHeld {
		return nil
	}
	var env wire.PoolEnvelope
	if err := json.Unmarshal(body, &env); err != nil { // opened before: cannot fail
		return badRequest(wire.CodeInvalidRequest, "malformed envelope")
	}
	sum := sha256.Sum256(env.Signature)
	switch err := s.envelopes.add(wire.JWKThumbprint(req.PublicKey), hex.EncodeToString(sum[:]), req.IssuedAt.Add(wire.MaxRequestAge), now); {
	case errors.Is(err, errReplayed):
		return withReason(wire.CodeInvalidRequest, wire.ReasonReplayed, "this signed request was sent before; sign a new one")
	case err != nil:
		return oerr(http.StatusServiceUnavailable, wire.CodeTemporarilyDown, "too many requests; try again in a few minutes")
	}
	return nil
}

// licensedInstall admits a key for an install code of customer c when the
// key holds a license token for that install: a live chain of refresh
// tokens (the license token's cnf.jkt is its key) started by a PC that
// presented this install code, for a device of the customer's organization
// whose license may still be used. So neither a Customer ID nor an install
// code, both of which are shown to people, is enough to register first.
func (s *Server) licensedInstall(txn *badger.Txn, req wire.PoolRequest, c customerRecord, now time.Time) (*oauthError, error) {
	if s.opts.PoolTrustOnFirstUse {
		return nil, nil
	}
	jkt := wire.JWKThumbprint(req.PublicKey)
	want := wire.NormalizeInstallCode(req.InstallCode)
	found := false
	err := scanJSON(txn, pKeyChain+jkt+"/", func(id *string) error {
		var ch chainRecord
		var live string
		if found || getJSON(txn, pChain+*id, &ch) != nil || ch.Revoked != "" || wire.NormalizeInstallCode(ch.InstallCode) != want {
			return nil
		}
		if getJSON(txn, pLive+ch.ServerID, &live) != nil || live != ch.ID {
			return nil
		}
		dev, _, refused, err := licensed(txn, ch.ServerID, now)
		found = err == nil && refused == nil && dev.OrgID == c.OrgID
		return err
	})
	if err != nil || found {
		return nil, err
	}
	return oerr(http.StatusForbidden, wire.CodeInstallUnlicensed, "install code "+req.InstallCode+
		" is registered only by the installation that holds a license for it from this customer's organization: authorize the device first"), nil
}
