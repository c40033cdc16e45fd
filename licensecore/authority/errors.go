package authority

import "errors"

// Every sentinel of the authority. Callers test them with errors.Is.

// Errors returned by Server methods.
var (
	ErrClosed              = errors.New("authority: server is closed")
	ErrUnknownLicense      = errors.New("authority: no such license")
	ErrAlreadyRunning      = errors.New("authority: the data directory is in use by another authority process")
	ErrInvalidSeed         = errors.New("authority: invalid seed")
	ErrInvalidEntitlements = errors.New("authority: invalid entitlements")
	ErrUnknownCustomer     = errors.New("authority: no such customer")
	ErrAuditBroken         = errors.New("authority: the audit log's hash chain is broken")
	ErrLicenseExpired      = errors.New("authority: the license has expired")
)

// Errors of the secrets at rest: the store key and the root key file.
var (
	ErrStoreKey    = errors.New("authority: no usable store key")
	ErrWrongKey    = errors.New("authority: wrong store key")
	ErrRootExists  = errors.New("authority: a root key file already exists; it is never overwritten")
	ErrNoRoot      = errors.New("authority: no root key")
	ErrBadRootFile = errors.New("authority: the root key file is damaged")
)

// Errors of the offline operations.
var (
	ErrUnknownDevice   = errors.New("authority: no such device")
	ErrInstallMismatch = errors.New("authority: the request comes from a PC with another install code")
	ErrNotEntitled     = errors.New("authority: the device's license cannot be used")
)

// Internal outcomes, each with one meaning.
var (
	errNotFound      = errors.New("no such record in the authority's store") // a missing store key
	errUnknownSwitch = errors.New("authority: no such switch request")
	errBadHash       = errors.New("malformed password hash")
	errDecided       = errors.New("this request was already answered or has expired; start again on the device")
	errReplayed      = errors.New("DPoP proof replayed")
	errReplayFull    = errors.New("DPoP replay cache is full")
)

// installError is ErrInstallMismatch with the sentence that says which PC
// the device is bound to.
type installError struct{ why string }

func (e *installError) Error() string { return ErrInstallMismatch.Error() + ": " + e.why }

func (e *installError) Unwrap() error { return ErrInstallMismatch }
