// Package licensecore is License Desk's licensing domain: the license model,
// status evaluation, license-token verification, the trusted clock, the
// encrypted on-disk store and the audit log. It never imports Fyne, so the
// same code runs in the desktop app, in the reference authority and in the
// registers and peer servers that verify tokens offline.
package licensecore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the screens package
// turns them into sentences a store manager can act on.
var (
	ErrNotLicensed     = errors.New("this server has no license")
	ErrTokenInvalid    = errors.New("license token is invalid")
	ErrTokenExpired    = errors.New("license token has expired")
	ErrTokenNotYet     = errors.New("license token is not valid yet")
	ErrUnknownKey      = errors.New("license token is signed with an unknown key")
	ErrTokenTooLarge   = errors.New("license token is too large")
	ErrClockRollback   = errors.New("the system clock is behind the last trusted time")
	ErrClosed          = errors.New("license store is closed")
	ErrAlreadyRunning  = errors.New("License Desk is already running")
	ErrNotFound        = errors.New("not found")
	ErrStoreCorrupt    = errors.New("license store is damaged")
	ErrAuditTampered   = errors.New("audit log has been altered")
	ErrSchemaTooNew    = errors.New("license store was written by a newer License Desk")
	ErrInvalidKeySet   = errors.New("key set from the authorization server is invalid")
	ErrWrongAudience   = errors.New("license token is meant for another service")
	ErrWrongIssuer     = errors.New("license token comes from another authorization server")
	ErrBadAlgorithm    = errors.New("license token uses a signing method that is not allowed")
	ErrBadSignature    = errors.New("license token signature does not match")
	ErrMalformedToken  = errors.New("license token is malformed or truncated")
	ErrMissingClaim    = errors.New("license token lacks a required field")
	ErrAuthorityDown   = errors.New("the authorization server cannot be reached")
	ErrAuthorityBroken = errors.New("the authorization server gave an answer License Desk does not understand")
)

// TokenError wraps a token rejection with the reason category (one of the
// sentinels above) and the underlying library error, for logs.
type TokenError struct {
	Kind  error // one of the sentinels
	Cause error // the library's error, may be nil
}

func (e *TokenError) Error() string {
	if e.Cause == nil {
		return e.Kind.Error()
	}
	return fmt.Sprintf("%s: %v", e.Kind.Error(), e.Cause)
}

// Unwrap lets errors.Is match both the category and ErrTokenInvalid.
func (e *TokenError) Unwrap() []error { return []error{e.Kind, ErrTokenInvalid} }

// Offline licensing errors: challenge/response codes and license files
// (offline.go, challenge.go). A refused code or file leaves the stored
// license untouched.
var (
	ErrCodeTypo            = errors.New("the code has a typing mistake")
	ErrCodeInvalid         = errors.New("the code is not a License Desk code")
	ErrNoChallenge         = errors.New("there is no pending challenge on this PC; get a new challenge")
	ErrResponseMismatch    = errors.New("the response code does not answer this PC's challenge, or was not made by the licensing authority")
	ErrResponseCannotCarry = errors.New("a response code cannot carry these features; use a license file instead")
	ErrRequestInvalid      = errors.New("the license request is incomplete or damaged")
	ErrFileTooLarge        = errors.New("the file is too large to be a license file")
	ErrEntitlementTampered = errors.New("the license file is damaged or has been altered")
	ErrEntitlementForeign  = errors.New("the license file was made for another PC")
	ErrEntitlementReplayed = errors.New("the license file has been imported before or is older than the current license")
	ErrEntitlementExpired  = errors.New("the license file has expired")
)

// EntitlementError is a refused license file or response code: Kind is one
// of the sentinels above, Cause the detail (may be nil).
type EntitlementError struct {
	Kind  error
	Cause error
}

func (e *EntitlementError) Error() string {
	if e.Cause == nil {
		return e.Kind.Error()
	}
	return fmt.Sprintf("%s: %v", e.Kind.Error(), e.Cause)
}

// Unwrap lets errors.Is match the kind and the cause.
func (e *EntitlementError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}
