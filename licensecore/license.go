package licensecore

import (
	"slices"
	"time"

	"licensedesk/licensecore/wire"
)

// VerifyResult is the outcome of the last online verification.
type VerifyResult string

// Verification outcomes.
const (
	VerifyNever       VerifyResult = ""
	VerifyValid       VerifyResult = "valid"
	VerifyExpired     VerifyResult = "expired"
	VerifyRevoked     VerifyResult = "revoked"
	VerifyUnreachable VerifyResult = "unreachable"
)

// License holds every license fact the screens show: the ones carried by the
// current license token and the ones License Desk records locally.
type License struct {
	// From the license token.
	ServerID      string           `json:"server_id"`
	DeviceName    string           `json:"device_name,omitempty"`
	LicenseID     string           `json:"licence_id"`
	Type          wire.LicenseType `json:"type"`
	Customer      string           `json:"customer,omitempty"`
	Features      []string         `json:"features"`
	HubServerName string           `json:"hub_server_name,omitempty"`
	HubServerURL  string           `json:"hub_server_url,omitempty"`
	Capacity      int              `json:"capacity,omitempty"`
	TransactionID string           `json:"transaction_id,omitempty"`
	// RenewalDate is zero when the license has no renewal date.
	RenewalDate   time.Time `json:"renewal_date,omitzero"`
	TokenID       string    `json:"token_id"`
	TokenIssuedAt time.Time `json:"token_issued_at"`
	TokenExpiry   time.Time `json:"token_expiry"`
	Issuer        string    `json:"issuer"`
	Modules       []string  `json:"modules,omitempty"`
	Users         int       `json:"users,omitempty"`
	AccountNumber string    `json:"account_number,omitempty"`
	SerialNumber  string    `json:"serial_number,omitempty"`

	// Local facts.
	AcquiredAt       time.Time    `json:"acquired_at,omitzero"`
	LastRefresh      time.Time    `json:"last_refresh,omitzero"`
	LastVerifyTime   time.Time    `json:"last_verify_time,omitzero"`
	LastVerifyResult VerifyResult `json:"last_verify_result,omitempty"`
	// OfflineSince is the last contact with the authority: online
	// acquisition, refresh or verification, or the issue time of the
	// license file or response code applied offline. Offline is set when
	// the license was last refreshed offline; only then does the offline
	// window (Policy.OfflineWindow) apply.
	OfflineSince time.Time `json:"offline_since,omitzero"`
	Offline      bool      `json:"offline,omitempty"`
}

// LicenseFromClaims builds the token-derived part of a License.
func LicenseFromClaims(c *wire.Claims) License {
	l := License{
		ServerID:      c.Subject,
		DeviceName:    c.DeviceName,
		LicenseID:     c.LicenseID,
		Type:          c.Type,
		Customer:      c.Customer,
		Features:      slices.Clone(c.Features),
		HubServerName: c.HubServerName,
		HubServerURL:  c.HubServerURL,
		Capacity:      c.Capacity,
		TransactionID: c.TransactionID,
		RenewalDate:   c.Renewal(),
		TokenID:       c.ID,
		Issuer:        c.Issuer,
		Modules:       slices.Clone(c.Modules),
		Users:         c.Users,
		AccountNumber: c.AccountNumber,
		SerialNumber:  c.SerialNumber,
	}
	if c.IssuedAt != nil {
		l.TokenIssuedAt = c.IssuedAt.UTC()
	}
	if c.ExpiresAt != nil {
		l.TokenExpiry = c.ExpiresAt.UTC()
	}
	return l
}

// WithToken returns a copy of l updated from a newer token of the same
// license, keeping the local facts.
func (l License) WithToken(c *wire.Claims) License {
	n := LicenseFromClaims(c)
	n.AcquiredAt = l.AcquiredAt
	n.LastRefresh = l.LastRefresh
	n.LastVerifyTime = l.LastVerifyTime
	n.LastVerifyResult = l.LastVerifyResult
	return n
}

// TokenLifetime is the span the current token was issued for.
func (l License) TokenLifetime() time.Duration {
	if l.TokenIssuedAt.IsZero() || l.TokenExpiry.IsZero() {
		return 0
	}
	return l.TokenExpiry.Sub(l.TokenIssuedAt)
}
