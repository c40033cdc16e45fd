package wire

// The cloud-pool protocol between an installation and the authority. The
// Manager speaks it and the reference authority (licensecore/authority)
// answers it; both use the types and the envelope check below, so the two
// sides cannot drift apart.
//
// # Authentication
//
// Every pool request is a JSON envelope {"payload","signature"}: payload is
// the PoolRequest JSON exactly as signed, signature is Ed25519 over
// "licensedesk-pool-v1\n" followed by the payload bytes. The signing key is
// the installation's own key pair, made on first use and kept sealed in the
// encrypted store; its public key travels in every request. The authority
// binds an install code to the first key it sees (trust on first use) and
// to one customer: a request signed with any other key for that install
// code is refused (install_conflict), and an install may only move to
// another customer while it holds none of the old customer's licenses.
// The Customer ID itself (a random UUID v4 from the partner page) is what
// admits a new installation to a customer's pool. So one installation
// acts only for its own customer, and only the installation holding an
// activation can hand it back.
//
// # Endpoints
//
//	GET  /customers/{id}   200 CustomerAnswer, 404 unknown_customer (no signature: it checks an ID)
//	POST /pool/list        op "list": the customer's available licenses (PoolListAnswer)
//	POST /pool/held        op "held": the licenses this installation holds (PoolHeldAnswer)
//	POST /pool/activate    op "activate" + licence_id + request_id → PoolActivation
//	POST /pool/transfer    op "transfer" + licence_id + activation_id + request_id → PoolTransferAnswer
//
// Errors are {"error","error_description"} with the PoolErr… codes.
//
// # Idempotency and the transfer receipt
//
// request_id is chosen by the installation and persisted (with the signed
// envelope) before the request is sent; a repeat of the same envelope gets
// the same answer, so a retry after a lost answer or a crash neither doubles
// nor loses a license. A transfer envelope is the signed transfer receipt:
// {license id, activation id, install code, customer, request id, time}
// signed by the key the activation was bound to. The authority credits the
// license back to the pool only for a receipt that names the license's
// current activation and verifies with that key; the installation stops
// counting the license before it sends the receipt.

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Pool operations: the op field of a PoolRequest, one per endpoint.
const (
	PoolOpList     = "list"
	PoolOpHeld     = "held"
	PoolOpActivate = "activate"
	PoolOpTransfer = "transfer"
)

// poolSigContext separates pool signatures from anything else the key
// might ever sign.
const poolSigContext = "licensedesk-pool-v1\n"

// MaxRequestAge is how far a pool request's issued_at may be from the
// authority's clock, either way.
const MaxRequestAge = 10 * time.Minute

// MaxPoolEnvelope bounds a pool request body.
const MaxPoolEnvelope = 8 << 10

// PoolRequest is the signed payload of every pool request.
type PoolRequest struct {
	Op           string    `json:"op"`
	CustomerID   string    `json:"customer_id"`
	InstallCode  string    `json:"install_code"`
	ServerName   string    `json:"server_name,omitempty"`
	PublicKey    []byte    `json:"public_key"`
	RequestID    string    `json:"request_id,omitempty"`
	LicenseID    string    `json:"licence_id,omitempty"`
	ActivationID string    `json:"activation_id,omitempty"`
	IssuedAt     time.Time `json:"issued_at"`
}

// PoolEnvelope carries a signed PoolRequest.
type PoolEnvelope struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// CustomerAnswer is GET /customers/{id}.
type CustomerAnswer struct {
	CustomerID string `json:"customer_id"`
	Name       string `json:"name"`
}

// PoolListAnswer is POST /pool/list.
type PoolListAnswer struct {
	Licenses []PoolLicense `json:"licences"`
}

// PoolActivation is POST /pool/activate: the license now bound to the
// installation under ActivationID.
type PoolActivation struct {
	License      PoolLicense `json:"licence"`
	ActivationID string      `json:"activation_id"`
	ActivatedAt  time.Time   `json:"activated_at"`
}

// PoolHeldAnswer is POST /pool/held.
type PoolHeldAnswer struct {
	Activations []PoolActivation `json:"activations"`
}

// PoolTransferAnswer is POST /pool/transfer: the license is back in the
// pool since TransferDate.
type PoolTransferAnswer struct {
	LicenseID    string    `json:"licence_id"`
	TransferDate time.Time `json:"transfer_date"`
}

// SignPoolRequest sets req.PublicKey from priv and returns the envelope's
// JSON.
func SignPoolRequest(priv ed25519.PrivateKey, req PoolRequest) ([]byte, error) {
	req.PublicKey = priv.Public().(ed25519.PublicKey)
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(priv, append([]byte(poolSigContext), payload...))
	return json.Marshal(PoolEnvelope{Payload: payload, Signature: sig})
}

// OpenPoolEnvelope parses a pool request body, checks every field and
// verifies the signature with the public key the payload names. Whether that
// key is the one registered for the install code is the authority's check.
func OpenPoolEnvelope(raw []byte) (PoolRequest, error) {
	var req PoolRequest
	if len(raw) > MaxPoolEnvelope {
		return req, fmt.Errorf("%w: larger than %d bytes", ErrBadPoolRequest, MaxPoolEnvelope)
	}
	var env PoolEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return req, fmt.Errorf("%w: %v", ErrBadPoolRequest, err)
	}
	if err := json.Unmarshal(env.Payload, &req); err != nil {
		return PoolRequest{}, fmt.Errorf("%w: payload: %v", ErrBadPoolRequest, err)
	}
	if err := req.validate(); err != nil {
		return PoolRequest{}, fmt.Errorf("%w: %v", ErrBadPoolRequest, err)
	}
	if len(env.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(req.PublicKey, append([]byte(poolSigContext), env.Payload...), env.Signature) {
		return PoolRequest{}, fmt.Errorf("%w: the signature does not verify", ErrBadPoolRequest)
	}
	return req, nil
}

func (r *PoolRequest) validate() error {
	if id, err := ParseCustomerID(r.CustomerID); err != nil || id != r.CustomerID {
		return fmt.Errorf("customer_id %q is not a canonical Customer ID", r.CustomerID)
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return errors.New("public_key must be 32 bytes")
	}
	if !ValidID(r.InstallCode) {
		return errors.New("install_code is missing or malformed")
	}
	if len(r.ServerName) > 200 {
		return errors.New("server_name is too long")
	}
	needs := map[string][]string{
		PoolOpList:     nil,
		PoolOpHeld:     nil,
		PoolOpActivate: {r.RequestID, r.LicenseID},
		PoolOpTransfer: {r.RequestID, r.LicenseID, r.ActivationID},
	}
	fields, ok := needs[r.Op]
	if !ok {
		return fmt.Errorf("unknown op %q", r.Op)
	}
	for _, f := range fields {
		if !ValidID(f) {
			return fmt.Errorf("op %s needs request_id, licence_id (and activation_id to transfer) of 1-64 letters, digits, '-', '_' or '.'", r.Op)
		}
	}
	return nil
}

// ValidID accepts the identifiers of the protocol: license IDs,
// request and activation IDs, install codes.
func ValidID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// PoolKind is what a pool license grants.
type PoolKind string

// Pool license kinds.
const (
	PoolCapacity    PoolKind = "capacity"    // Devices more devices
	PoolMaintenance PoolKind = "maintenance" // maintenance until MaintenanceUntil
)

// PoolLicense is a license in the customer's cloud pool.
type PoolLicense struct {
	ID               string    `json:"id"`
	Kind             PoolKind  `json:"kind"`
	Devices          int       `json:"devices,omitempty"`
	MaintenanceUntil time.Time `json:"maintenance_until,omitzero"`
	// TransferDate is when the license was created or last returned to
	// the pool.
	TransferDate time.Time `json:"transfer_date,omitzero"`
}

// maxPoolDevices bounds a capacity license; anything larger is a broken
// answer rather than a license.
const maxPoolDevices = 1_000_000

// Validate checks a pool license as the authority describes it.
func (p PoolLicense) Validate() error {
	if !ValidID(p.ID) {
		return fmt.Errorf("pool license id %q is malformed", p.ID)
	}
	switch p.Kind {
	case PoolCapacity:
		if p.Devices < 1 || p.Devices > maxPoolDevices || !p.MaintenanceUntil.IsZero() {
			return fmt.Errorf("capacity license %s: devices must be 1-%d and there is no maintenance date", p.ID, maxPoolDevices)
		}
	case PoolMaintenance:
		if p.MaintenanceUntil.IsZero() || p.Devices != 0 {
			return fmt.Errorf("maintenance license %s: needs an end date and no devices", p.ID)
		}
	default:
		return fmt.Errorf("pool license %s: unknown kind %q", p.ID, p.Kind)
	}
	return nil
}

// ParsePoolList decodes and checks a /pool/list answer.
func ParsePoolList(raw []byte) ([]PoolLicense, error) {
	var a PoolListAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%w: pool list: %v", ErrMalformedAnswer, err)
	}
	seen := map[string]bool{}
	for i := range a.Licenses {
		l := &a.Licenses[i]
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
		}
		if seen[l.ID] {
			return nil, fmt.Errorf("%w: pool license %s listed twice", ErrMalformedAnswer, l.ID)
		}
		seen[l.ID] = true
	}
	return a.Licenses, nil
}

// ParseActivation decodes and checks one activation.
func ParseActivation(a PoolActivation) (PoolActivation, error) {
	if err := a.License.Validate(); err != nil {
		return a, fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
	}
	if !ValidID(a.ActivationID) || a.ActivatedAt.IsZero() {
		return a, fmt.Errorf("%w: activation of %s lacks an activation id or time", ErrMalformedAnswer, a.License.ID)
	}
	return a, nil
}

// ParseHeld decodes and checks a /pool/held answer.
func ParseHeld(raw []byte) ([]PoolActivation, error) {
	var a PoolHeldAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%w: held licenses: %v", ErrMalformedAnswer, err)
	}
	for i := range a.Activations {
		var err error
		if a.Activations[i], err = ParseActivation(a.Activations[i]); err != nil {
			return nil, err
		}
	}
	return a.Activations, nil
}

// CustomerIDError is a Customer ID that is not a UUID. Its message is the
// sentence the account screen shows.
type CustomerIDError struct{ Input string }

func (e *CustomerIDError) Error() string {
	return fmt.Sprintf("%q is not a valid Customer ID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", e.Input)
}

// Unwrap exposes ErrInvalidCustomerID.
func (e *CustomerIDError) Unwrap() error { return ErrInvalidCustomerID }

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
