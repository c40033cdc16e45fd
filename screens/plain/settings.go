package plain

import (
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// Settings are the values a person may change. Thresholds are in the units
// people think in (days, hours, percent); Policy converts them.
type Settings struct {
	AuthorityURL string
	// RootKey is the Authorization server's root public key
	// (wire.EncodeRootKey); changing it needs an administrator and an
	// explicit confirmation of both fingerprints.
	RootKey           string
	RenewalWindowDays int
	TokenWarnHours    int
	TokenWarnPercent  int
	StartMinimized    bool
	// KeyStorage says where this PC keeps its keys (shown, not edited); a
	// file means no credential store was found.
	KeyStorage string
}

// settingsError is already a sentence for the person, unlike most errors.
type settingsError string

func (e settingsError) Error() string { return string(e) }

// Validate returns a sentence naming the first wrong value, or nil.
func (s Settings) Validate() error {
	// The client's own parser decides, so the form accepts exactly the
	// addresses the client can use.
	_, urlErr := licensecore.ParseAuthorityURL(s.AuthorityURL)
	switch {
	case urlErr != nil:
		return settingsError("Enter the Authorization server address in full, for example https://licensing.example.com, without a user name, '?' or '#'. It must use https unless the server runs on this PC.")
	case s.RootKey != "" && rootKeyError(s.RootKey) != nil:
		return settingsError("The root key is not valid. It looks like ed25519: followed by 43 letters, digits, '-' or '_'; copy it again from your provider.")
	case s.RenewalWindowDays < 1 || s.RenewalWindowDays > 365:
		return settingsError("The renewal warning must be between 1 and 365 days.")
	case s.TokenWarnHours < 1 || s.TokenWarnHours > 24*30:
		return settingsError("The token warning must be between 1 and 720 hours.")
	case s.TokenWarnPercent < 1 || s.TokenWarnPercent > 99:
		return settingsError("The token warning percentage must be between 1 and 99.")
	}
	return nil
}

// Policy returns base with the thresholds from s.
func (s Settings) Policy(base licensecore.Policy) licensecore.Policy {
	base.RenewalWindow = time.Duration(s.RenewalWindowDays) * 24 * time.Hour
	base.TokenWarnBefore = time.Duration(s.TokenWarnHours) * time.Hour
	base.TokenWarnFraction = float64(s.TokenWarnPercent) / 100
	return base
}

func rootKeyError(v string) error {
	_, err := wire.ParseRootKey(v)
	return err
}
