package localapi

import (
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// The JSON bodies of the routes. licensecore types that carry JSON tags
// travel as they are; these add what their tags leave out.

// StatusDoc is licensecore.Status on the wire, with the fields Status
// keeps out of its own JSON and the revision for long polls.
type StatusDoc struct {
	licensecore.Status
	Revision          uint64 `json:"revision"`
	StateCode         string `json:"state"`
	TokenState        string `json:"token_state"`
	TokenLeftNS       int64  `json:"token_left_ns"`
	RenewalLeftNS     int64  `json:"renewal_left_ns"`
	ServerOffsetNS    int64  `json:"server_offset_ns"`
	ServerOffsetKnown bool   `json:"server_offset_known"`
}

var (
	stateCodes = map[licensecore.State]string{licensecore.Unlicensed: "unlicensed", licensecore.Licensed: "licensed",
		licensecore.RequiresRenewal: "requires_renewal", licensecore.ExpiredRequiresRenewal: "expired_requires_renewal"}
	tokenCodes = map[licensecore.TokenState]string{licensecore.TokenNone: "none", licensecore.TokenOK: "ok",
		licensecore.TokenExpiringSoon: "expiring_soon", licensecore.TokenExpired: "expired"}
)

func statusDoc(st licensecore.Status, rev uint64) StatusDoc {
	return StatusDoc{Status: st, Revision: rev, StateCode: stateCodes[st.State], TokenState: tokenCodes[st.Token],
		TokenLeftNS: int64(st.TokenLeft), RenewalLeftNS: int64(st.RenewalLeft),
		ServerOffsetNS: int64(st.ServerOffset), ServerOffsetKnown: st.ServerOffsetKnown}
}

// status rebuilds the licensecore.Status.
func (d StatusDoc) status() licensecore.Status {
	st := d.Status
	for s, c := range stateCodes {
		if c == d.StateCode {
			st.State = s
		}
	}
	for s, c := range tokenCodes {
		if c == d.TokenState {
			st.Token = s
		}
	}
	st.TokenLeft, st.RenewalLeft = time.Duration(d.TokenLeftNS), time.Duration(d.RenewalLeftNS)
	st.ServerOffset, st.ServerOffsetKnown = time.Duration(d.ServerOffsetNS), d.ServerOffsetKnown
	return st
}

// Info is what the screens show of this installation and its trust anchor.
type Info struct {
	AuthorityURL    string             `json:"authority_url"`
	DeviceName      string             `json:"device_name"`
	InstallCode     string             `json:"install_code"`
	RootKey         string             `json:"root_key,omitempty"`
	RootFingerprint string             `json:"root_fingerprint,omitempty"`
	Policy          licensecore.Policy `json:"policy"`
}

// deviceAuthDoc is a started device flow; the user code names it when the
// client asks to complete it.
type deviceAuthDoc struct {
	UserCode                string    `json:"user_code"`
	VerificationURI         string    `json:"verification_uri"`
	VerificationURIComplete string    `json:"verification_uri_complete"`
	Expiry                  time.Time `json:"expires_at"`
	IntervalNS              int64     `json:"interval_ns"`
}

type userCodeDoc struct {
	UserCode string `json:"user_code"`
}

// TokenDoc is the answer of GET /v1/token.
type TokenDoc struct {
	Token      string    `json:"token"`
	ID         string    `json:"jti"`
	ServerID   string    `json:"server_id"`
	IssuedAt   time.Time `json:"issued_at"`
	Expiry     time.Time `json:"expires_at"`
	State      string    `json:"state"`
	TokenState string    `json:"token_state"`
}

// KeySetDoc is the answer of GET /v1/jwks: the root-signed key set as a
// compact JWS and as plain keys, with what a register pins.
type KeySetDoc struct {
	JWS             string    `json:"jws"`
	JWKS            wire.JWKS `json:"jwks"`
	Issuer          string    `json:"issuer"`
	Audience        string    `json:"audience"`
	RootKey         string    `json:"root_key"`
	RootFingerprint string    `json:"root_fingerprint"`
}

// VerifyRequest asks the agent to verify a peer's token. With DPoP, the
// proof made by the token's holder for the request HTM HTU, the token must
// be bound to the proof's key.
type VerifyRequest struct {
	Token string `json:"token"`
	DPoP  string `json:"dpop,omitempty"`
	HTM   string `json:"htm,omitempty"`
	HTU   string `json:"htu,omitempty"`
}

// VerifyDoc is the answer of POST /v1/verify: the claims of a valid token,
// or the reason it was refused in the error shape of every answer.
type VerifyDoc struct {
	Valid  bool         `json:"valid"`
	Claims *wire.Claims `json:"claims,omitempty"`
	Reason *errorBody   `json:"reason,omitempty"`
}

type hasAdminDoc struct {
	Has bool `json:"has"`
}

type credentialsDoc struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// sessionDoc is an administrator session; Token goes back as the bearer.
type sessionDoc struct {
	User    string    `json:"user"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires_at"`
}

type removeDoc struct {
	Force bool `json:"force"`
}

type downloadDoc struct {
	Status  StatusDoc            `json:"status"`
	Changes []licensecore.Change `json:"changes"`
}

type switchToDoc struct {
	To wire.LicenseType `json:"to"`
}

type pendingDoc struct {
	Pending bool                       `json:"pending"`
	Request *licensecore.SwitchRequest `json:"request,omitempty"`
}

type checkSwitchDoc struct {
	Request licensecore.SwitchRequest `json:"request"`
	Status  StatusDoc                 `json:"status"`
}

type codeDoc struct {
	Code string `json:"code"`
}

type licenseRequestDoc struct {
	Account string `json:"account"`
	Serial  string `json:"serial"`
}

// fileDoc carries a file's bytes (base64 in JSON).
type fileDoc struct {
	File []byte `json:"file"`
}

type customerDoc struct {
	CustomerID string `json:"customer_id"`
}

type idsDoc struct {
	IDs []string `json:"ids"`
}

// activateLine is one line of POST /v1/pool/activate's NDJSON answer:
// progress lines, then one line with the result or the error.
type activateLine struct {
	Done      *int                           `json:"done,omitempty"`
	Total     int                            `json:"total,omitempty"`
	Activated []licensecore.ActivatedLicense `json:"activated,omitempty"`
	Error     *errorBody                     `json:"error,omitempty"`
	Final     bool                           `json:"final,omitempty"`
}
