package wire

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// LicenseType is perpetual or subscription.
type LicenseType string

// License types.
const (
	Perpetual    LicenseType = "perpetual"
	Subscription LicenseType = "subscription"
)

// Claims is the payload of a license token. The reference authority signs
// it and licensecore verifies it; it is the only type the two share.
// sub is the Server ID, exp the Token Expiry, iat the issue time, jti the
// token ID.
type Claims struct {
	jwt.RegisteredClaims
	LicenseID     string      `json:"lid"`
	Type          LicenseType `json:"ltp"`
	Customer      string      `json:"cus,omitempty"`
	Features      []string    `json:"fea"`
	HubServerName string      `json:"hsn,omitempty"`
	HubServerURL  string      `json:"hsu,omitempty"`
	Capacity      int         `json:"cap,omitempty"`
	// RenewalDate is the license renewal date in Unix seconds; 0 when the
	// license has none (a perpetual license, for example).
	RenewalDate   int64  `json:"rnw,omitempty"`
	TransactionID string `json:"txn,omitempty"`
	DeviceName    string `json:"dev,omitempty"`
	// Entitlements that "Download new license" picks up (issue 5).
	Modules       []string `json:"mod,omitempty"`
	Users         int      `json:"usr,omitempty"`
	AccountNumber string   `json:"acc,omitempty"`
	SerialNumber  string   `json:"ser,omitempty"`
	// InstallCode binds an offline entitlement to one installation.
	InstallCode string `json:"ins,omitempty"`
	// Confirmation names the key that holds the token (DPoP, RFC 9449).
	Confirmation *Confirmation `json:"cnf,omitempty"`
}

// Renewal returns the renewal date, or the zero time when there is none.
func (c *Claims) Renewal() time.Time {
	if c.RenewalDate == 0 {
		return time.Time{}
	}
	return time.Unix(c.RenewalDate, 0).UTC()
}

// TokenResponseLicenseField is the extra field of the token endpoint's JSON
// answer that carries the license token (the access_token carries it too).
const TokenResponseLicenseField = "licence_token"

// DefaultAudience is the audience of license tokens: the POS registers and
// peer servers that accept them.
const DefaultAudience = "pos-licence"

// MaxTokenSize bounds a license token; anything larger is refused before
// parsing so an attacker cannot make us decode megabytes of JSON.
const MaxTokenSize = 16 << 10
