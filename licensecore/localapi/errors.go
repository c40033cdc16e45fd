package localapi

import (
	"context"
	"errors"
	"net/http"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// Sentinels of the local API itself.
var (
	// ErrAgentRunning: another agent answers on the socket.
	ErrAgentRunning = errors.New("another License Desk agent is already running")
	// ErrAgentUnreachable: the client could not talk to the agent.
	ErrAgentUnreachable = errors.New("the License Desk agent cannot be reached")
	// ErrBadRequest: a request the agent cannot read (bad JSON, a missing
	// or wrong parameter, a body too large).
	ErrBadRequest = errors.New("the request to the License Desk agent is malformed")
	// ErrNoRoute: no such route or method in this version of the API.
	ErrNoRoute = errors.New("the License Desk agent has no such operation")
	// ErrUnknownAuthorization: the device flow to complete was not started
	// at this agent, or its code has expired there.
	ErrUnknownAuthorization = errors.New("the agent does not know this device authorization")
	// ErrNotSupported: this platform's listener is not built yet.
	ErrNotSupported = errors.New("the local API is not available on this platform yet")
	// ErrInternal: an error without a code of its own; its text says more.
	ErrInternal = errors.New("the License Desk agent failed")
)

// codes gives every sentinel a stable code and an HTTP status. An error
// answer names the first match as "error" and every other match in
// "also", so errors.Is on the client holds for every sentinel it held for
// in the agent. Order matters for the first match only: specific kinds
// before their families.
var codes = []struct {
	code   string
	err    error
	status int
}{
	// The license and its token.
	{"not_licensed", licensecore.ErrNotLicensed, http.StatusNotFound},
	{"token_expired", licensecore.ErrTokenExpired, http.StatusUnprocessableEntity},
	{"token_not_yet", licensecore.ErrTokenNotYet, http.StatusUnprocessableEntity},
	{"token_too_large", licensecore.ErrTokenTooLarge, http.StatusUnprocessableEntity},
	{"wrong_audience", licensecore.ErrWrongAudience, http.StatusUnprocessableEntity},
	{"wrong_issuer", licensecore.ErrWrongIssuer, http.StatusUnprocessableEntity},
	{"bad_algorithm", licensecore.ErrBadAlgorithm, http.StatusUnprocessableEntity},
	{"bad_signature", licensecore.ErrBadSignature, http.StatusUnprocessableEntity},
	{"malformed_token", licensecore.ErrMalformedToken, http.StatusUnprocessableEntity},
	{"missing_claim", licensecore.ErrMissingClaim, http.StatusUnprocessableEntity},
	{"wrong_holder", licensecore.ErrWrongHolder, http.StatusUnprocessableEntity},
	{"unknown_key", wire.ErrUnknownKey, http.StatusUnprocessableEntity},
	{"token_invalid", licensecore.ErrTokenInvalid, http.StatusUnprocessableEntity},
	{"clock_rollback", licensecore.ErrClockRollback, http.StatusConflict},
	// The store and the process.
	{"closed", licensecore.ErrClosed, http.StatusServiceUnavailable},
	{"already_running", licensecore.ErrAlreadyRunning, http.StatusConflict},
	{"not_stored", licensecore.ErrNotStored, http.StatusNotFound},
	{"store_corrupt", licensecore.ErrStoreCorrupt, http.StatusInternalServerError},
	{"audit_tampered", licensecore.ErrAuditTampered, http.StatusInternalServerError},
	{"schema_too_new", licensecore.ErrSchemaTooNew, http.StatusInternalServerError},
	{"store_key_missing", licensecore.ErrStoreKeyMissing, http.StatusInternalServerError},
	{"secrets_foreign", licensecore.ErrSecretsForeign, http.StatusInternalServerError},
	// The Authorization server's answers.
	{"authority_down", licensecore.ErrAuthorityDown, http.StatusBadGateway},
	{"authority_broken", licensecore.ErrAuthorityBroken, http.StatusBadGateway},
	{"access_denied", licensecore.ErrAccessDenied, http.StatusForbidden},
	{"device_code_expired", licensecore.ErrDeviceCodeExpired, http.StatusGone},
	{"license_revoked", licensecore.ErrLicenseRevoked, http.StatusForbidden},
	{"license_expired", licensecore.ErrLicenseExpired, http.StatusForbidden},
	{"refresh_rejected", licensecore.ErrRefreshRejected, http.StatusForbidden},
	{"unknown_request", licensecore.ErrUnknownRequest, http.StatusNotFound},
	{"license_moved", licensecore.ErrLicenseMoved, http.StatusForbidden},
	{"chain_revoked", licensecore.ErrChainRevoked, http.StatusForbidden},
	{"key_mismatch", licensecore.ErrKeyMismatch, http.StatusForbidden},
	// Trust configuration.
	{"no_root", licensecore.ErrNoRoot, http.StatusConflict},
	{"root_mismatch", licensecore.ErrRootMismatch, http.StatusConflict},
	{"bad_authority_url", licensecore.ErrBadAuthorityURL, http.StatusBadRequest},
	// The license lifecycle.
	{"switch_same_type", licensecore.ErrSwitchSameType, http.StatusConflict},
	{"switch_pending", licensecore.ErrSwitchPending, http.StatusConflict},
	{"no_switch_pending", licensecore.ErrNoSwitchPending, http.StatusConflict},
	// Offline licensing.
	{"no_challenge", licensecore.ErrNoChallenge, http.StatusConflict},
	{"no_install_code", licensecore.ErrNoInstallCode, http.StatusConflict},
	{"file_too_large", licensecore.ErrFileTooLarge, http.StatusRequestEntityTooLarge},
	{"entitlement_tampered", licensecore.ErrEntitlementTampered, http.StatusUnprocessableEntity},
	{"entitlement_foreign", licensecore.ErrEntitlementForeign, http.StatusUnprocessableEntity},
	{"entitlement_replayed", licensecore.ErrEntitlementReplayed, http.StatusUnprocessableEntity},
	{"entitlement_expired", licensecore.ErrEntitlementExpired, http.StatusUnprocessableEntity},
	// Administrators.
	{"admin_required", licensecore.ErrAdminRequired, http.StatusUnauthorized},
	{"admin_exists", licensecore.ErrAdminExists, http.StatusConflict},
	{"bad_credentials", licensecore.ErrBadCredentials, http.StatusUnauthorized},
	{"login_throttled", licensecore.ErrLoginThrottled, http.StatusTooManyRequests},
	{"weak_password", licensecore.ErrWeakPassword, http.StatusBadRequest},
	{"invalid_user_name", licensecore.ErrInvalidUserName, http.StatusBadRequest},
	// The customer account and the cloud pool.
	{"unknown_customer", licensecore.ErrUnknownCustomer, http.StatusNotFound},
	{"no_customer_id", licensecore.ErrNoCustomerID, http.StatusConflict},
	{"customer_in_use", licensecore.ErrCustomerInUse, http.StatusConflict},
	{"pool_license_unavailable", licensecore.ErrPoolLicenseUnavailable, http.StatusConflict},
	{"install_conflict", licensecore.ErrInstallConflict, http.StatusConflict},
	{"install_unlicensed", licensecore.ErrInstallUnlicensed, http.StatusForbidden},
	{"request_stale", licensecore.ErrRequestStale, http.StatusConflict},
	{"authority_busy", licensecore.ErrAuthorityBusy, http.StatusServiceUnavailable},
	{"pool_refused", licensecore.ErrPoolRefused, http.StatusForbidden},
	{"not_activated", licensecore.ErrNotActivated, http.StatusConflict},
	// The wire formats.
	{"invalid_key_set", wire.ErrInvalidKeySet, http.StatusBadGateway},
	{"untrusted_key_set", wire.ErrUntrustedKeySet, http.StatusBadGateway},
	{"malformed_answer", wire.ErrMalformedAnswer, http.StatusBadGateway},
	{"unsigned_answer", wire.ErrUnsignedAnswer, http.StatusBadGateway},
	{"bad_pool_request", wire.ErrBadPoolRequest, http.StatusBadRequest},
	{"code_typo", wire.ErrCodeTypo, http.StatusBadRequest},
	{"code_invalid", wire.ErrCodeInvalid, http.StatusBadRequest},
	{"response_mismatch", wire.ErrResponseMismatch, http.StatusUnprocessableEntity},
	{"response_cannot_carry", wire.ErrResponseCannotCarry, http.StatusUnprocessableEntity},
	{"request_invalid", wire.ErrRequestInvalid, http.StatusBadRequest},
	{"invalid_customer_id", wire.ErrInvalidCustomerID, http.StatusBadRequest},
	{"bad_root_key", wire.ErrBadRootKey, http.StatusBadRequest},
	{"bad_dpop", wire.ErrBadDPoP, http.StatusUnprocessableEntity},
	// The local API and the request's context.
	{"agent_running", ErrAgentRunning, http.StatusConflict},
	{"agent_unreachable", ErrAgentUnreachable, http.StatusServiceUnavailable},
	{"bad_request", ErrBadRequest, http.StatusBadRequest},
	{"no_route", ErrNoRoute, http.StatusNotFound},
	{"unknown_authorization", ErrUnknownAuthorization, http.StatusNotFound},
	{"not_supported", ErrNotSupported, http.StatusNotImplemented},
	{"canceled", context.Canceled, 499},
	{"deadline_exceeded", context.DeadlineExceeded, http.StatusGatewayTimeout},
	{"internal", ErrInternal, http.StatusInternalServerError},
}

// byCode finds a sentinel by its code.
var byCode = func() map[string]error {
	m := make(map[string]error, len(codes))
	for _, c := range codes {
		m[c.code] = c.err
	}
	return m
}()

// errorBody is the one JSON shape of every error answer. Besides the code
// and the text it carries the typed errors' fields, so the client rebuilds
// them for errors.As (the screens word some by their details).
type errorBody struct {
	Code    string   `json:"error"`
	Message string   `json:"message"`
	Also    []string `json:"also,omitempty"`

	Rejected   *rejectedBody   `json:"rejected,omitempty"`
	Authority  *authorityBody  `json:"authority,omitempty"`
	LicenseID  string          `json:"licence_id,omitempty"`
	CodeError  *wire.CodeError `json:"code_error,omitempty"`
	CustomerID *string         `json:"customer_id_input,omitempty"`
}

type rejectedBody struct {
	Kind  string `json:"kind"`
	Cause string `json:"cause,omitempty"`
}

type authorityBody struct {
	Code        wire.ErrorCode `json:"code"`
	Reason      wire.Reason    `json:"reason,omitempty"`
	Description string         `json:"description,omitempty"`
	Kind        string         `json:"kind"`
}

// encodeError describes err for the wire and picks its HTTP status.
func encodeError(err error) (errorBody, int) {
	b := errorBody{Message: err.Error()}
	status := http.StatusInternalServerError
	for _, c := range codes {
		if !errors.Is(err, c.err) {
			continue
		}
		if b.Code == "" {
			b.Code, status = c.code, c.status
		} else {
			b.Also = append(b.Also, c.code)
		}
	}
	if b.Code == "" {
		b.Code = "internal"
	}
	if re := (*licensecore.RejectedError)(nil); errors.As(err, &re) {
		b.Rejected = &rejectedBody{Kind: codeOf(re.Kind)}
		if re.Cause != nil {
			b.Rejected.Cause = re.Cause.Error()
		}
	}
	if ae := (*licensecore.AuthorityError)(nil); errors.As(err, &ae) {
		b.Authority = &authorityBody{Code: ae.Code, Reason: ae.Reason, Description: ae.Description, Kind: codeOf(ae.Kind)}
	}
	if pe := (*licensecore.PoolLicenseError)(nil); errors.As(err, &pe) {
		b.LicenseID = pe.LicenseID
	}
	if ce := (*wire.CodeError)(nil); errors.As(err, &ce) {
		b.CodeError = ce
	}
	if ie := (*wire.CustomerIDError)(nil); errors.As(err, &ie) {
		b.CustomerID = &ie.Input
	}
	return b, status
}

// codeOf is the code of one sentinel ("internal" for anything else).
func codeOf(err error) string {
	for _, c := range codes {
		if err == c.err {
			return c.code
		}
	}
	return "internal"
}

// sentinel is the error of a code; ErrInternal for a code this client
// does not know (a newer agent).
func sentinel(code string) error {
	if err, ok := byCode[code]; ok {
		return err
	}
	return ErrInternal
}

// Error is an error answer of the agent. Its text is the agent's;
// errors.Is holds for every sentinel the agent's error matched, and
// errors.As finds the licensecore and wire typed errors it carried.
type Error struct {
	Code    string // the first matching code, as in codes
	Message string
	Status  int // the HTTP status
	wrapped []error
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the sentinels and typed errors.
func (e *Error) Unwrap() []error { return e.wrapped }

// decodeError rebuilds the agent's error from its answer.
func decodeError(b errorBody, status int) *Error {
	e := &Error{Code: b.Code, Message: b.Message, Status: status}
	for _, c := range append([]string{b.Code}, b.Also...) {
		e.wrapped = append(e.wrapped, sentinel(c))
	}
	if r := b.Rejected; r != nil {
		var cause error
		if r.Cause != "" {
			cause = errors.New(r.Cause)
		}
		e.wrapped = append(e.wrapped, &licensecore.RejectedError{Kind: sentinel(r.Kind), Cause: cause})
	}
	if a := b.Authority; a != nil {
		e.wrapped = append(e.wrapped, &licensecore.AuthorityError{Code: a.Code, Reason: a.Reason, Description: a.Description, Kind: sentinel(a.Kind)})
	}
	if b.LicenseID != "" {
		e.wrapped = append(e.wrapped, &licensecore.PoolLicenseError{LicenseID: b.LicenseID, Err: sentinel(b.Code)})
	}
	if b.CodeError != nil {
		e.wrapped = append(e.wrapped, b.CodeError)
	}
	if b.CustomerID != nil {
		e.wrapped = append(e.wrapped, &wire.CustomerIDError{Input: *b.CustomerID})
	}
	return e
}
