package licensecore

import (
	"errors"
	"fmt"

	"licensedesk/licensecore/wire"
)

// Every sentinel of the package. Callers test them with errors.Is; the
// screens package turns them into sentences a store manager can act on. The
// wire formats' own sentinels (a malformed code, key set or file) are in
// licensecore/wire.

// The license and its token.
var (
	ErrNotLicensed    = errors.New("this server has no license")
	ErrTokenInvalid   = errors.New("license token is invalid")
	ErrTokenExpired   = errors.New("license token has expired")
	ErrTokenNotYet    = errors.New("license token is not valid yet")
	ErrTokenTooLarge  = errors.New("license token is too large")
	ErrWrongAudience  = errors.New("license token is meant for another service")
	ErrWrongIssuer    = errors.New("license token comes from another authorization server")
	ErrBadAlgorithm   = errors.New("license token uses a signing method that is not allowed")
	ErrBadSignature   = errors.New("license token signature does not match")
	ErrMalformedToken = errors.New("license token is malformed or truncated")
	ErrMissingClaim   = errors.New("license token lacks a required field")
	ErrWrongHolder    = errors.New("license token is held by another key")
	ErrClockRollback  = errors.New("the system clock is behind the last trusted time")
)

// The store and the process.
var (
	ErrClosed         = errors.New("license store is closed")
	ErrAlreadyRunning = errors.New("License Desk is already running")
	// ErrNotStored: the store has no record under that key.
	ErrNotStored     = errors.New("no such record in the license store")
	ErrStoreCorrupt  = errors.New("license store is damaged")
	ErrAuditTampered = errors.New("audit log has been altered")
	ErrSchemaTooNew  = errors.New("license store was written by a newer License Desk")
	errStopScan      = errors.New("stop scan")
	// The keys kept outside the data directory (secrets.go).
	ErrStoreKeyMissing = errors.New("the license store's key is not on this PC")
	ErrSecretsForeign  = errors.New("the license keys were sealed on another PC")
)

// The Authorization server's answers.
var (
	ErrAuthorityDown     = errors.New("the authorization server cannot be reached")
	ErrAuthorityBroken   = errors.New("the authorization server gave an answer License Desk does not understand")
	ErrAccessDenied      = errors.New("the authorization was denied")
	ErrDeviceCodeExpired = errors.New("the user code expired before it was authorized")
	ErrLicenseRevoked    = errors.New("the license was revoked")
	ErrLicenseExpired    = errors.New("the license has expired and requires renewal")
	ErrRefreshRejected   = errors.New("the authorization server refused to renew the license token")
	// ErrUnknownRequest: the authority answered 404 for a request it no
	// longer knows (a switch request, say).
	ErrUnknownRequest = errors.New("the authorization server does not know this request")
	// ErrLicenseMoved: the license was approved for another PC since.
	ErrLicenseMoved = errors.New("the license was moved to another PC")
	// ErrChainRevoked: a refresh token was replayed; the authority revoked
	// this installation's tokens.
	ErrChainRevoked = errors.New("the authorization server revoked this installation's tokens after a replayed refresh token")
	// ErrKeyMismatch: this installation's key is not the one the license
	// was issued to (a copied data directory, say).
	ErrKeyMismatch = errors.New("the license was issued to another installation key")
)

// Trust configuration.
var (
	ErrNoRoot          = errors.New("no root key of the authorization server is configured")
	ErrRootMismatch    = errors.New("the configured root key differs from the pinned one")
	ErrBadAuthorityURL = errors.New("not a valid authorization server address")
)

// The license lifecycle.
var (
	ErrSwitchSameType  = errors.New("the license already has that type")
	ErrSwitchPending   = errors.New("another license change is already waiting for approval")
	ErrNoSwitchPending = errors.New("no license change is waiting for approval")
)

// Offline licensing: refused license files and response codes. A refused
// code or file leaves the stored license untouched.
var (
	ErrNoChallenge         = errors.New("there is no pending challenge on this PC; get a new challenge")
	ErrNoInstallCode       = errors.New("this PC has no install code")
	ErrFileTooLarge        = errors.New("the file is too large to be a license file")
	ErrEntitlementTampered = errors.New("the license file is damaged or has been altered")
	ErrEntitlementForeign  = errors.New("the license file was made for another PC")
	ErrEntitlementReplayed = errors.New("the license file has been imported before or is older than the current license")
	ErrEntitlementExpired  = errors.New("the license file has expired")
)

// Administrators.
var (
	ErrAdminRequired   = errors.New("this change needs a System Administrator")
	ErrAdminExists     = errors.New("an administrator account already exists")
	ErrBadCredentials  = errors.New("the user name or password is wrong")
	ErrLoginThrottled  = errors.New("too many failed logins; wait before trying again")
	ErrWeakPassword    = errors.New("the password must have at least 8 characters")
	ErrInvalidUserName = errors.New("the user name must be 1 to 64 letters, digits, dots, dashes or underscores")
)

// The customer account and the cloud pool.
var (
	ErrUnknownCustomer        = errors.New("the authorization server does not know this Customer ID")
	ErrNoCustomerID           = errors.New("no Customer ID is set for this server")
	ErrCustomerInUse          = errors.New("this server holds cloud licenses of its current customer")
	ErrPoolLicenseUnavailable = errors.New("the license is not available in the cloud pool")
	ErrInstallConflict        = errors.New("another installation with this install code is registered for the cloud pool")
	ErrPoolRefused            = errors.New("the authorization server refused the cloud-pool request")
	ErrInstallUnlicensed      = errors.New("the cloud pool serves only an installation that holds a license")
	ErrRequestStale           = errors.New("the authorization server refused a request whose time is too far from its own")
	ErrAuthorityBusy          = errors.New("the authorization server asked to slow down")
	ErrNotActivated           = errors.New("the license is not activated on this server")
)

// RejectedError is a license token, license file or response code that was
// refused: Kind is the sentinel saying why (ErrTokenExpired,
// ErrEntitlementForeign, wire.ErrUnknownKey, …), Cause the detail for logs
// (may be nil). errors.Is matches the kind, the cause and, for a token,
// ErrTokenInvalid.
type RejectedError struct {
	Kind  error
	Cause error
	token bool
}

func tokenRejected(kind, cause error) *RejectedError {
	return &RejectedError{Kind: kind, Cause: cause, token: true}
}

func fileRejected(kind, cause error) *RejectedError {
	return &RejectedError{Kind: kind, Cause: cause}
}

func (e *RejectedError) Error() string {
	if e.Cause == nil {
		return e.Kind.Error()
	}
	return fmt.Sprintf("%s: %v", e.Kind.Error(), e.Cause)
}

// Unwrap exposes the kind, the cause and the token family.
func (e *RejectedError) Unwrap() []error {
	out := []error{e.Kind}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	if e.token {
		out = append(out, ErrTokenInvalid)
	}
	return out
}

// AuthorityError is an error answer of the Authorization server (RFC 6749
// §5.2 / RFC 8628 §3.5, and the lifecycle and pool endpoints).
type AuthorityError struct {
	Code        wire.ErrorCode
	Reason      wire.Reason
	Description string // the server's words, for logs and the audit
	Kind        error  // the matching sentinel
}

func (e *AuthorityError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("%s (%s)", e.Kind.Error(), e.Description)
	}
	return e.Kind.Error()
}

// Unwrap exposes the sentinel.
func (e *AuthorityError) Unwrap() error { return e.Kind }

// PoolLicenseError is the failure of one license of a batch.
type PoolLicenseError struct {
	LicenseID string
	Err       error
}

func (e *PoolLicenseError) Error() string { return "license " + e.LicenseID + ": " + e.Err.Error() }

// Unwrap exposes the cause.
func (e *PoolLicenseError) Unwrap() error { return e.Err }
