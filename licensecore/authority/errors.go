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
)
