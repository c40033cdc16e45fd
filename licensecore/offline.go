package licensecore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	badger "github.com/dgraph-io/badger/v4"
)

// Offline licensing: a PC that cannot reach the authority is licensed or
// upgraded by a person who carries a code or a file to a PC with a browser.
//
// Challenge / response (challenge.go has the byte layouts): GetChallenge
// shows a code, the authority's /upgrade page answers it, ApplyResponse
// checks and applies the answer to the stored license record (capacity,
// users, renewal date, features). The license token registers use is not
// changed by a response code; the next online refresh or license file
// brings a token with the new entitlement.
//
// License request → license file: LicenseRequest writes a request file, the
// authority's /entitle page or `authority entitle` turns it into a license
// file (.ent), and ImportEntitlement verifies and stores it. The file's
// entitlement is a license token like the online ones (same claims, aud
// DefaultAudience), so registers accept it, with typ "licence-entitlement",
// ins = this PC's install code and exp = iat + 30 days.
//
// The .ent file is JSON: {"format":"licensedesk-entitlement","version":1,
// "entitlement":"<JWS>","jwks":{"keys":[…]}}. Its key set is trusted on
// first use only: when no key set is pinned yet (the PC has never been
// online) it is pinned; otherwise the token must be signed by a pinned key
// and a key in the file whose kid is pinned must be that same key. So after
// a key rotation a PC that was never online since needs a file signed with
// a key it knows, or one online contact.
//
// Offline window: a license refreshed offline is valid for
// Policy.OfflineWindow (30 days) after OfflineSince (the issue time of the
// file or code). Within Policy.OfflineWarn (7 days) of the end the status
// warns (OfflineWarning); at the end the license counts as
// ExpiredRequiresRenewal until the authority is contacted (online refresh,
// acquisition or verification) or a newer file or code is applied. Online
// licenses are governed by their token expiry instead.

// Limits and names of the offline files.
const (
	// MaxEntitlementFile bounds a license file; larger files are refused
	// unread (ErrFileTooLarge).
	MaxEntitlementFile = 64 << 10
	// MaxRequestFile bounds a license request file.
	MaxRequestFile = 4 << 10
	// EntitlementType is the JWS typ header of a license file's token.
	EntitlementType   = "licence-entitlement"
	entitlementFormat = "licensedesk-entitlement"
	requestType       = "licence-request"
	// DefaultOfflineWindow and DefaultOfflineWarn are Policy's defaults.
	DefaultOfflineWindow = 30 * 24 * time.Hour
	DefaultOfflineWarn   = 7 * 24 * time.Hour
)

// Audit events of offline licensing.
const (
	EventUpgradedOffline = "upgraded_offline"
	EventImportedOffline = "imported_offline"
	EventRequestCreated  = "request_created"
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

// EntitlementFile is the JSON envelope of a license file (.ent).
type EntitlementFile struct {
	Format      string `json:"format"`
	Version     int    `json:"version"`
	Entitlement string `json:"entitlement"`
	JWKS        *JWKS  `json:"jwks,omitempty"`
}

// NewEntitlementFile wraps a signed entitlement and the authority's key set.
func NewEntitlementFile(entitlement string, set JWKS) ([]byte, error) {
	return json.MarshalIndent(EntitlementFile{Format: entitlementFormat, Version: 1, Entitlement: entitlement, JWKS: &set}, "", "  ")
}

// validLabel: an account or serial number, or a device name.
func validLabel(s string, max int) bool {
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

// LicenseRequest writes the request file for this PC (indented JSON). The
// account and serial numbers are what the customer was given; they are
// checked against the license by the authority.
func (m *Manager) LicenseRequest(account, serial string) ([]byte, error) {
	account, serial = strings.TrimSpace(account), strings.TrimSpace(serial)
	if !validLabel(account, 64) || !validLabel(serial, 64) {
		return nil, fmt.Errorf("%w: the account number and serial number are required (at most 64 characters)", ErrRequestInvalid)
	}
	if m.opts.InstallCode == "" {
		return nil, fmt.Errorf("%w: this PC has no install code", ErrRequestInvalid)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	now := m.clock.Now().UTC().Truncate(time.Second)
	req := LicenseRequestFile{
		Version: 1, Type: requestType, AccountNumber: account, SerialNumber: serial,
		InstallCode: m.opts.InstallCode, DeviceName: m.opts.DeviceName,
		Nonce: base64.RawURLEncoding.EncodeToString(nonce), CreatedAt: now,
	}
	out, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		return nil, err
	}
	m.audit(EventRequestCreated, "account "+account+", serial "+serial)
	return append(out, '\n'), nil
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
	case req.Version != 1 || req.Type != requestType:
		err = fmt.Errorf("not a version 1 license request")
	case !validLabel(req.AccountNumber, 64) || !validLabel(req.SerialNumber, 64):
		err = fmt.Errorf("account number and serial number are required")
	case !validLabel(req.InstallCode, 64) || NormalizeInstallCode(req.InstallCode) == "":
		err = fmt.Errorf("install code is missing")
	case req.DeviceName != "" && !validLabel(req.DeviceName, 128):
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

// ---- challenge / response ----

// GetChallenge returns this PC's pending challenge, making and storing one
// when there is none. It stays pending across restarts until a response is
// applied, so the response may be typed in days later.
func (m *Manager) GetChallenge() (Challenge, error) {
	m.refresh.Lock()
	defer m.refresh.Unlock()
	var ch Challenge
	err := m.store.getJSON(keyChallenge, &ch)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return ch, err
	}
	if m.opts.InstallCode == "" {
		return Challenge{}, errors.New("this PC has no install code")
	}
	if ch, err = NewChallenge(rand.Reader, m.opts.InstallCode, m.clock.Now()); err != nil {
		return Challenge{}, err
	}
	raw, err := json.Marshal(ch)
	if err != nil {
		return Challenge{}, err
	}
	return ch, m.store.put(keyChallenge, raw)
}

// ApplyResponse checks a response code against the pending challenge and
// the pinned key set and applies its entitlement to the stored license. It
// needs an administrator session. Typos are *CodeError (ErrCodeTypo) with
// the group; an answer to another challenge, server or license is
// ErrResponseMismatch; with no pending challenge (never asked, or already
// answered) ErrNoChallenge. A refused code changes nothing.
func (m *Manager) ApplyResponse(ctx context.Context, sess *AdminSession, code string) (Status, error) {
	if err := m.beginOffline(ctx, sess); err != nil {
		return m.Status(), err
	}
	defer m.refresh.Unlock()
	var ch Challenge
	if err := m.store.getJSON(keyChallenge, &ch); errors.Is(err, ErrNotFound) {
		return m.Status(), ErrNoChallenge
	} else if err != nil {
		return m.Status(), err
	}
	m.mu.Lock()
	prev := m.lic
	m.mu.Unlock()
	if prev == nil {
		return m.Status(), fmt.Errorf("%w: a response code upgrades a license; import a license file first", ErrNotLicensed)
	}
	set, err := m.store.JWKS()
	if errors.Is(err, ErrNotFound) {
		return m.Status(), fmt.Errorf("%w: no key set is pinned yet; import a license file first", ErrUnknownKey)
	} else if err != nil {
		return m.Status(), err
	}
	keys, err := set.PublicKeys()
	if err != nil {
		return m.Status(), err
	}
	e, err := VerifyResponse(code, ch, prev.ServerID, prev.LicenseID, keys)
	if err != nil {
		if !errors.Is(err, ErrCodeTypo) {
			m.audit(EventRejected, "response code: "+err.Error())
		}
		return m.Status(), err
	}
	now := m.clock.Now()
	if !e.RenewalDate.IsZero() && !now.Before(e.RenewalDate) {
		return m.Status(), &EntitlementError{Kind: ErrEntitlementExpired, Cause: fmt.Errorf("renewal date %s has passed", e.RenewalDate.Format(time.DateOnly))}
	}
	if err := m.clock.Observe(e.IssuedAt); err != nil {
		return m.Status(), err
	}
	lic := *prev
	lic.Capacity, lic.Users, lic.RenewalDate, lic.Features = e.Capacity, e.Users, e.RenewalDate, e.Features
	if lic.Features == nil {
		lic.Features = []string{}
	}
	lic.Offline, lic.OfflineSince = true, e.IssuedAt
	if err := m.saveOffline(lic, nil, nil, "response-"+hex.EncodeToString(ch.Nonce[:]), now); err != nil {
		return m.Status(), err
	}
	m.audit(EventUpgradedOffline, fmt.Sprintf("server %s, license %s: capacity %d, users %d, renewal %s, features %s (response issued %s)",
		lic.ServerID, lic.LicenseID, lic.Capacity, lic.Users, dateOrNone(lic.RenewalDate), strings.Join(lic.Features, ","), e.IssuedAt.Format(time.RFC3339)))
	return m.Status(), nil
}

// beginOffline is the gate of ApplyResponse and ImportEntitlement: the
// administrator check first, then the refresh lock (held on success; the
// caller unlocks) and the clock check.
func (m *Manager) beginOffline(ctx context.Context, sess *AdminSession) error {
	if err := m.requireAdmin(sess); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.refresh.Lock()
	if rb, _ := m.clock.Rollback(); rb {
		m.refresh.Unlock()
		return ErrClockRollback
	}
	return nil
}

func dateOrNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.DateOnly)
}

// saveOffline stores a license refreshed offline in one transaction: the
// license (and tokens and key set when given), the used marker, refused
// when present (ErrEntitlementReplayed), and the end of the pending
// challenge.
func (m *Manager) saveOffline(l License, t *Tokens, jwks *JWKS, used string, now time.Time) error {
	write, err := m.store.licenseWrites(l, t, jwks)
	if err != nil {
		return err
	}
	err = m.store.update(func(txn *badger.Txn) error {
		if _, err := txn.Get([]byte(prefixUsed + used)); err == nil {
			return &EntitlementError{Kind: ErrEntitlementReplayed}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := write(txn); err != nil {
			return err
		}
		if err := txn.Set([]byte(prefixUsed+used), []byte(now.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		if t == nil { // a response code answers the pending challenge
			return txn.Delete([]byte(keyChallenge))
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.lic = &l
	m.mu.Unlock()
	return nil
}

// ---- license files ----

// openedEntitlement is a verified license file.
type openedEntitlement struct {
	token  string
	claims *Claims
	pin    *JWKS // the file's key set, to pin (trust on first use)
}

// openEntitlement verifies a license file for this PC. pinned is nil when
// no key set is pinned yet.
func openEntitlement(data []byte, pinned *JWKS, vo VerifierOptions, installCode string) (openedEntitlement, error) {
	tampered := func(format string, a ...any) error {
		return &EntitlementError{Kind: ErrEntitlementTampered, Cause: fmt.Errorf(format, a...)}
	}
	if len(data) > MaxEntitlementFile {
		return openedEntitlement{}, &EntitlementError{Kind: ErrFileTooLarge, Cause: fmt.Errorf("%d bytes, at most %d", len(data), MaxEntitlementFile)}
	}
	var f EntitlementFile
	if err := json.Unmarshal(data, &f); err != nil {
		return openedEntitlement{}, tampered("not a license file: %v", err)
	}
	if f.Format != entitlementFormat || f.Version != 1 || f.Entitlement == "" {
		return openedEntitlement{}, tampered("not a version 1 license file")
	}
	var hdr struct {
		Typ string `json:"typ"`
	}
	h64, _, _ := strings.Cut(f.Entitlement, ".")
	if err := decodeSegment(h64, &hdr); err != nil || hdr.Typ != EntitlementType {
		return openedEntitlement{}, tampered("the entitlement is not a license entitlement")
	}
	out := openedEntitlement{token: f.Entitlement}
	var fileKeys map[string]JWK
	if f.JWKS != nil && len(f.JWKS.Keys) == 0 {
		f.JWKS = nil // an empty set says nothing
	}
	if f.JWKS != nil {
		if _, err := f.JWKS.PublicKeys(); err != nil {
			return openedEntitlement{}, tampered("%v", err)
		}
		fileKeys = map[string]JWK{}
		for _, k := range f.JWKS.Keys {
			fileKeys[k.Kid] = k
		}
	}
	trusted := pinned
	if pinned == nil {
		if f.JWKS == nil {
			return openedEntitlement{}, &EntitlementError{Kind: ErrUnknownKey, Cause: errors.New("the file carries no key set and none is pinned")}
		}
		trusted, out.pin = f.JWKS, f.JWKS
	} else {
		for _, k := range pinned.Keys {
			if fk, ok := fileKeys[k.Kid]; ok && fk.X != k.X {
				return openedEntitlement{}, tampered("key %q differs from the pinned one", k.Kid)
			}
		}
	}
	v, err := NewVerifier(vo)
	if err != nil {
		return openedEntitlement{}, err
	}
	if err := v.SetKeySet(*trusted); err != nil {
		return openedEntitlement{}, err
	}
	claims, err := v.Verify(f.Entitlement)
	switch {
	case errors.Is(err, ErrTokenExpired):
		return openedEntitlement{}, &EntitlementError{Kind: ErrEntitlementExpired, Cause: err}
	case errors.Is(err, ErrUnknownKey):
		return openedEntitlement{}, &EntitlementError{Kind: ErrUnknownKey, Cause: errors.New("the file is signed with a key this PC does not know; connect to the authority once")}
	case errors.Is(err, ErrWrongIssuer), errors.Is(err, ErrWrongAudience):
		return openedEntitlement{}, &EntitlementError{Kind: ErrEntitlementForeign, Cause: err}
	case err != nil:
		return openedEntitlement{}, &EntitlementError{Kind: ErrEntitlementTampered, Cause: err}
	}
	if claims.IssuedAt == nil {
		return openedEntitlement{}, tampered("no issue time")
	}
	if claims.InstallCode == "" || NormalizeInstallCode(claims.InstallCode) != NormalizeInstallCode(installCode) {
		return openedEntitlement{}, &EntitlementError{Kind: ErrEntitlementForeign, Cause: fmt.Errorf("it is for install code %q, this PC is %q", claims.InstallCode, installCode)}
	}
	out.claims = claims
	return out, nil
}

// ImportEntitlement verifies a license file (.ent) and stores its license
// and token. It needs an administrator session. Refusals are
// *EntitlementError: ErrFileTooLarge, ErrEntitlementTampered (damaged,
// truncated, altered, not a license file), ErrEntitlementForeign (another
// PC or authority), ErrEntitlementExpired, ErrEntitlementReplayed (imported
// before, or older than the stored license) or ErrUnknownKey; the stored
// license is then untouched.
func (m *Manager) ImportEntitlement(ctx context.Context, sess *AdminSession, data []byte) (Status, error) {
	if err := m.beginOffline(ctx, sess); err != nil {
		return m.Status(), err
	}
	defer m.refresh.Unlock()
	c, mv, p := m.parts()
	var pinned *JWKS
	if set, err := m.store.JWKS(); err == nil {
		pinned = &set
	} else if !errors.Is(err, ErrNotFound) {
		return m.Status(), err
	}
	ent, err := openEntitlement(data, pinned, VerifierOptions{Issuer: c.Issuer(), Audience: m.opts.Audience, Leeway: p.Leeway, Now: m.clock.Now}, m.opts.InstallCode)
	if err != nil {
		m.audit(EventRejected, "license file: "+err.Error())
		return m.Status(), err
	}
	claims := ent.claims
	iat := claims.IssuedAt.UTC()
	m.mu.Lock()
	prev := m.lic
	m.mu.Unlock()
	var refresh string
	if prev != nil {
		if prev.TokenID == claims.ID || iat.Before(prev.TokenIssuedAt) {
			err := &EntitlementError{Kind: ErrEntitlementReplayed, Cause: fmt.Errorf("issued %s, the stored license %s", iat.Format(time.RFC3339), prev.TokenIssuedAt.Format(time.RFC3339))}
			m.audit(EventRejected, "license file: "+err.Error())
			return m.Status(), err
		}
		if prev.ServerID == claims.Subject {
			if toks, err := m.store.Tokens(); err == nil {
				refresh = toks.Refresh // kept for when the PC is online again
			}
		}
	}
	if err := m.clock.Observe(iat); err != nil {
		return m.Status(), err
	}
	now := m.clock.Now()
	var lic License
	if prev != nil && prev.ServerID == claims.Subject {
		lic = prev.WithToken(claims)
	} else {
		lic = LicenseFromClaims(claims)
		lic.AcquiredAt = now
	}
	lic.LastRefresh = now
	lic.Offline, lic.OfflineSince = true, iat
	if err := m.saveOffline(lic, &Tokens{License: ent.token, Refresh: refresh}, ent.pin, "entitlement-"+claims.ID, now); err != nil {
		if errors.Is(err, ErrEntitlementReplayed) {
			m.audit(EventRejected, "license file: "+err.Error())
		}
		return m.Status(), err
	}
	if ent.pin != nil {
		_ = mv.SetKeySet(*ent.pin)
	}
	m.audit(EventImportedOffline, fmt.Sprintf("server %s, license %s, token %s until %s", lic.ServerID, lic.LicenseID, lic.TokenID, lic.TokenExpiry.Format(time.RFC3339)))
	return m.Status(), nil
}

// ---- offline window ----

func (p Policy) offlineWindow() (window, warn time.Duration) {
	window, warn = p.OfflineWindow, p.OfflineWarn
	if window <= 0 {
		window = DefaultOfflineWindow
	}
	if warn <= 0 {
		warn = DefaultOfflineWarn
	}
	return window, warn
}

// evaluateOffline fills the offline fields of st (Evaluate's last step).
// Boundaries: at exactly OfflineSince + window the license has expired; it
// warns from exactly window − warn after OfflineSince. Days left round up.
func evaluateOffline(st *Status, l *License, now time.Time, p Policy) {
	if !l.Offline || l.OfflineSince.IsZero() {
		return
	}
	window, warn := p.offlineWindow()
	st.OfflineGraceEnd = l.OfflineSince.Add(window)
	left := st.OfflineGraceEnd.Sub(now)
	if left <= 0 {
		st.State = ExpiredRequiresRenewal
		return
	}
	st.OfflineDaysLeft = int((left + day - 1) / day)
	st.OfflineExpiring = left <= warn
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// OfflineWarning is the sentence shown when a license refreshed offline
// nears or reaches the end of its offline window, e.g. "The license will
// expire in 7 days because the licensing server has been unavailable for
// 23 days"; "" when there is nothing to say. Days offline round down, days
// left round up.
func OfflineWarning(st Status, p Policy) string {
	l := st.License
	if l == nil || !l.Offline || l.OfflineSince.IsZero() {
		return ""
	}
	window, warn := p.offlineWindow()
	away := int(st.At.Sub(l.OfflineSince) / day)
	left := l.OfflineSince.Add(window).Sub(st.At)
	switch {
	case left <= 0:
		return "The license has expired because the licensing server has been unavailable for " + days(away)
	case left <= warn:
		return fmt.Sprintf("The license will expire in %s because the licensing server has been unavailable for %s", days(int((left+day-1)/day)), days(away))
	}
	return ""
}
