package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors of the wire formats. Callers test them with errors.Is.
var (
	ErrInvalidKeySet       = errors.New("key set from the authorization server is invalid")
	ErrUnknownKey          = errors.New("signed with a key this PC does not know")
	ErrMalformedAnswer     = errors.New("the answer does not follow the protocol")
	ErrBadPoolRequest      = errors.New("malformed or unsigned pool request")
	ErrCodeTypo            = errors.New("the code has a typing mistake")
	ErrCodeInvalid         = errors.New("the code is not a License Desk code")
	ErrResponseMismatch    = errors.New("the response code does not answer this PC's challenge, or was not made by the licensing authority")
	ErrResponseCannotCarry = errors.New("a response code cannot carry these features; use a license file instead")
	ErrRequestInvalid      = errors.New("the license request is incomplete or damaged")
	ErrInvalidCustomerID   = errors.New("not a valid Customer ID")
	ErrBadRootKey          = errors.New("not a valid root key")
	ErrUntrustedKeySet     = errors.New("the key set is not signed by the pinned root key")
	ErrBadDPoP             = errors.New("the proof of possession is invalid")
	ErrUnsignedAnswer      = errors.New("the answer is not signed by the authorization server")
)

// ErrorCode is the "error" member of an ErrorAnswer: RFC 6749 §5.2 and
// RFC 8628 §3.5 codes, and this protocol's own.
type ErrorCode string

// OAuth error codes (RFC 6749, RFC 8628).
const (
	CodeInvalidRequest       ErrorCode = "invalid_request"
	CodeInvalidClient        ErrorCode = "invalid_client"
	CodeInvalidGrant         ErrorCode = "invalid_grant"
	CodeUnsupportedGrantType ErrorCode = "unsupported_grant_type"
	CodeAccessDenied         ErrorCode = "access_denied"
	CodeExpiredToken         ErrorCode = "expired_token"
	CodeAuthorizationPending ErrorCode = "authorization_pending"
	CodeSlowDown             ErrorCode = "slow_down"
	CodeServerError          ErrorCode = "server_error"
	CodeTemporarilyDown      ErrorCode = "temporarily_unavailable"
	CodeNotFound             ErrorCode = "not_found"
	// CodeInvalidDPoPProof: the DPoP proof is missing or invalid (RFC 9449
	// §5), for example made with a clock too far from the authority's.
	CodeInvalidDPoPProof ErrorCode = "invalid_dpop_proof"
)

// Error codes of the cloud pool and customer endpoints.
const (
	CodeInvalidSignature ErrorCode = "invalid_signature"
	CodeUnknownCustomer  ErrorCode = "unknown_customer"
	CodeInstallConflict  ErrorCode = "install_conflict"
	CodeInstallBusy      ErrorCode = "install_busy"
	CodeUnknownLicense   ErrorCode = "unknown_licence"
	CodeNotAvailable     ErrorCode = "not_available"
	CodeSuperseded       ErrorCode = "superseded"
	CodeNotHeld          ErrorCode = "not_held"
	// CodeInstallUnlicensed: an install code is registered to a key only
	// when that key holds a license token for the install (the DPoP key of
	// a live authorization of a device of the customer's organization).
	CodeInstallUnlicensed ErrorCode = "install_unlicensed"
)

// CodeTooManyRequests: the caller is over a rate limit; the answer is 429
// with Retry-After.
const CodeTooManyRequests ErrorCode = "too_many_requests"

// Reason says why an OAuth error happened where the OAuth code alone is too
// coarse: invalid_grant or access_denied because the license was revoked
// or has expired. Clients decide on Reason and Code, never on the
// description text.
type Reason string

// Reasons of an ErrorAnswer.
const (
	ReasonLicenseRevoked Reason = "licence_revoked"
	ReasonLicenseExpired Reason = "licence_expired"
	// ReasonLicenseMoved: the license was approved for another PC since;
	// this PC's chain of refresh tokens is revoked.
	ReasonLicenseMoved Reason = "licence_moved"
	// ReasonChainRevoked: a refresh token was used twice outside the grace
	// window (RFC 9700 §4.14.2); the whole chain is revoked.
	ReasonChainRevoked Reason = "chain_revoked"
	// ReasonKeyMismatch: the DPoP proof is missing or made with another key
	// than the one the refresh token was issued to.
	ReasonKeyMismatch Reason = "key_mismatch"
	// ReasonInstallMismatch: the device is bound to a PC with another
	// install code.
	ReasonInstallMismatch Reason = "install_mismatch"
	// ReasonStaleRequest: a signed request's issued_at is more than
	// MaxRequestAge away from the authority's clock.
	ReasonStaleRequest Reason = "stale_request"
	// ReasonReplayed: the same signed request was sent before.
	ReasonReplayed Reason = "replayed"
)

// ErrorAnswer is every error body the authority sends: RFC 6749 §5.2's
// error and error_description, and this protocol's reason.
type ErrorAnswer struct {
	Code        ErrorCode `json:"error"`
	Description string    `json:"error_description,omitempty"`
	Reason      Reason    `json:"reason,omitempty"`
}

// Error makes an ErrorAnswer usable as an error on the authority's side.
func (e *ErrorAnswer) Error() string {
	if e.Description == "" {
		return string(e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Description)
}
