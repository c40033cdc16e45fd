package wire

// The offline files a person carries between a PC without internet and the
// authority: the license request (.json, nothing secret) and the license
// file (.ent) whose entitlement is a license token like the online ones,
// with typ EntitlementType, ins = the PC's install code and exp = iat +
// OfflineWindow.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Limits and names of the offline files.
const (
	// MaxEntitlementFile bounds a license file; larger files are refused
	// unread (ErrFileTooLarge).
	MaxEntitlementFile = 64 << 10
	// MaxRequestFile bounds a license request file.
	MaxRequestFile = 4 << 10
	// EntitlementType is the JWS typ header of a license file's token.
	EntitlementType   = "licence-entitlement"
	EntitlementFormat = "licensedesk-entitlement"
	RequestType       = "licence-request"
	// OfflineWindow is how long a license file's entitlement lasts (exp =
	// iat + OfflineWindow), and the client's default offline window.
	OfflineWindow = 30 * 24 * time.Hour
)

// LicenseRequestFile is the request a person carries to the authority. It
// holds nothing secret.
type LicenseRequestFile struct {
	Version       int       `json:"version"`
	Type          string    `json:"type"`
	AccountNumber string    `json:"account_number"`
	SerialNumber  string    `json:"serial_number"`
	InstallCode   string    `json:"install_code"`
	DeviceName    string    `json:"device_name,omitempty"`
	Nonce         string    `json:"nonce"`
	CreatedAt     time.Time `json:"created_at"`
}

// EntitlementFile is the JSON envelope of a license file (.ent). KeySet is
// the authority's root-signed key set (see trust.go), so a PC that was
// never online verifies the entitlement against the root it ships with.
// JWKS is the bare key set files of version 1 carried; it is never trusted
// and no longer written.
type EntitlementFile struct {
	Format      string `json:"format"`
	Version     int    `json:"version"`
	Entitlement string `json:"entitlement"`
	KeySet      string `json:"keyset,omitempty"`
	JWKS        *JWKS  `json:"jwks,omitempty"`
}

// NewEntitlementFile wraps a signed entitlement and the authority's
// root-signed key set.
func NewEntitlementFile(entitlement, signedKeySet string) ([]byte, error) {
	return json.MarshalIndent(EntitlementFile{Format: EntitlementFormat, Version: 1, Entitlement: entitlement, KeySet: signedKeySet}, "", "  ")
}

// ValidLabel: an account or serial number, or a device name.
func ValidLabel(s string, max int) bool {
	if s == "" || len(s) > max || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ParseLicenseRequest reads a request file (the authority's side). Anything
// but a complete version-1 request is ErrRequestInvalid.
func ParseLicenseRequest(data []byte) (LicenseRequestFile, error) {
	var req LicenseRequestFile
	if len(data) > MaxRequestFile {
		return req, fmt.Errorf("%w: larger than %d bytes", ErrRequestInvalid, MaxRequestFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return LicenseRequestFile{}, fmt.Errorf("%w: %v", ErrRequestInvalid, err)
	}
	if dec.More() {
		return LicenseRequestFile{}, fmt.Errorf("%w: data after the request", ErrRequestInvalid)
	}
	nonce, err := base64.RawURLEncoding.DecodeString(req.Nonce)
	switch {
	case req.Version != 1 || req.Type != RequestType:
		err = fmt.Errorf("not a version 1 license request")
	case !ValidLabel(req.AccountNumber, 64) || !ValidLabel(req.SerialNumber, 64):
		err = fmt.Errorf("account number and serial number are required")
	case !ValidLabel(req.InstallCode, 64) || NormalizeInstallCode(req.InstallCode) == "":
		err = fmt.Errorf("install code is missing")
	case req.DeviceName != "" && !ValidLabel(req.DeviceName, 128):
		err = fmt.Errorf("device name is not printable")
	case err != nil || len(nonce) != 16:
		err = fmt.Errorf("nonce is not 16 bytes")
	case req.CreatedAt.IsZero():
		err = fmt.Errorf("created_at is missing")
	}
	if err != nil {
		return LicenseRequestFile{}, fmt.Errorf("%w: %v", ErrRequestInvalid, err)
	}
	return req, nil
}
