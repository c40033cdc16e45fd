package wire

import "time"

// The license lifecycle endpoints. Requests are forms with client_id; the
// answers are JSON, errors an ErrorAnswer.
//
//	POST PathVerify          license_token  → VerifyAnswer
//	POST PathRelease         refresh_token  → ReleaseAnswer
//	POST PathSwitch          refresh_token, to → SwitchAnswer (pending)
//	GET  PathSwitch + "/"id                 → SwitchAnswer
const (
	PathVerify  = "/licence/verify"
	PathRelease = "/licence/release"
	PathSwitch  = "/licence/switch"
)

// Form fields of the lifecycle endpoints.
const (
	FieldLicenseToken = "licence_token"
	FieldRefreshToken = "refresh_token"
	FieldSwitchTo     = "to"
)

// VerifyResult is the authority's verdict on a license.
type VerifyResult string

// Verdicts of PathVerify. A perpetual license is valid unless revoked.
const (
	VerifyValid   VerifyResult = "valid"
	VerifyExpired VerifyResult = "expired"
	VerifyRevoked VerifyResult = "revoked"
)

// Known reports whether r is one of the verdicts above.
func (r VerifyResult) Known() bool {
	return r == VerifyValid || r == VerifyExpired || r == VerifyRevoked
}

// VerifyAnswer is PathVerify's answer.
type VerifyAnswer struct {
	Result    VerifyResult `json:"result"`
	LicenseID string       `json:"licence_id"`
	Type      LicenseType  `json:"type"`
	CheckedAt time.Time    `json:"checked_at"`
}

// ReleaseAnswer is PathRelease's answer.
type ReleaseAnswer struct {
	Released bool `json:"released"`
}

// SwitchStatus is the state of a perpetual/subscription switch request.
type SwitchStatus string

// Switch request states.
const (
	SwitchPending  SwitchStatus = "pending"
	SwitchApproved SwitchStatus = "approved"
	SwitchDenied   SwitchStatus = "denied"
)

// Known reports whether s is one of the states above.
func (s SwitchStatus) Known() bool {
	return s == SwitchPending || s == SwitchApproved || s == SwitchDenied
}

// SwitchAnswer is the answer of PathSwitch (a new request) and of
// PathSwitch/{id} (its state).
type SwitchAnswer struct {
	RequestID  string       `json:"request_id"`
	Status     SwitchStatus `json:"status"`
	ApproveURI string       `json:"approve_uri,omitempty"`
	LicenseID  string       `json:"licence_id,omitempty"`
	From       LicenseType  `json:"from,omitempty"`
	To         LicenseType  `json:"to,omitempty"`
}
