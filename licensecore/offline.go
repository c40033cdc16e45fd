package licensecore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"licensedesk/licensecore/wire"
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

// DefaultOfflineWarn is Policy's default warning period before the end of
// the offline window (wire.OfflineWindow).
const DefaultOfflineWarn = 7 * 24 * time.Hour

// Audit events of offline licensing.
const (
	EventUpgradedOffline = "upgraded_offline"
	EventImportedOffline = "imported_offline"
	EventRequestCreated  = "request_created"
)

// LicenseRequest writes the request file for this PC (indented JSON). The
// account and serial numbers are what the customer was given; they are
// checked against the license by the authority.
func (m *Manager) LicenseRequest(account, serial string) ([]byte, error) {
	account, serial = strings.TrimSpace(account), strings.TrimSpace(serial)
	if !wire.ValidLabel(account, 64) || !wire.ValidLabel(serial, 64) {
		return nil, fmt.Errorf("%w: the account number and serial number are required (at most 64 characters)", wire.ErrRequestInvalid)
	}
	if m.opts.InstallCode == "" {
		return nil, fmt.Errorf("%w: this PC has no install code", wire.ErrRequestInvalid)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	now := m.clock.Now().UTC().Truncate(time.Second)
	req := wire.LicenseRequestFile{
		Version: 1, Type: wire.RequestType, AccountNumber: account, SerialNumber: serial,
		InstallCode: m.opts.InstallCode, DeviceName: m.opts.DeviceName,
		Nonce: base64.RawURLEncoding.EncodeToString(nonce), CreatedAt: now,
	}
	out, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		return nil, err
	}
	m.audit.record(EventRequestCreated, "account "+account+", serial "+serial)
	return append(out, '\n'), nil
}

// ---- challenge / response ----

// GetChallenge returns this PC's pending challenge, making and storing one
// when there is none. It stays pending across restarts until a response is
// applied, so the response may be typed in days later.
func (m *Manager) GetChallenge() (wire.Challenge, error) {
	m.op.Lock()
	defer m.op.Unlock()
	var ch wire.Challenge
	err := m.store.getJSON(keyChallenge, &ch)
	if err == nil || !errors.Is(err, ErrNotStored) {
		return ch, err
	}
	if m.opts.InstallCode == "" {
		return wire.Challenge{}, ErrNoInstallCode
	}
	if ch, err = wire.NewChallenge(rand.Reader, m.opts.InstallCode, m.clock.Now()); err != nil {
		return wire.Challenge{}, err
	}
	raw, err := json.Marshal(ch)
	if err != nil {
		return wire.Challenge{}, err
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
	if err := offlineGate(ctx, m.admins, sess); err != nil {
		return m.Status(), err
	}
	m.op.Lock()
	defer m.op.Unlock()
	if rb, _ := m.clock.Rollback(); rb {
		return m.Status(), ErrClockRollback
	}
	var ch wire.Challenge
	if err := m.store.getJSON(keyChallenge, &ch); errors.Is(err, ErrNotStored) {
		return m.Status(), ErrNoChallenge
	} else if err != nil {
		return m.Status(), err
	}
	prev := m.lic.Load()
	if prev == nil {
		return m.Status(), fmt.Errorf("%w: a response code upgrades a license; import a license file first", ErrNotLicensed)
	}
	anchor := m.Client().anchor
	if anchor == nil {
		return m.Status(), ErrNoRoot
	}
	keys := anchor.snapshot()
	if len(keys) == 0 {
		return m.Status(), fmt.Errorf("%w: no key set signed by the root is pinned yet; import a license file first", wire.ErrUnknownKey)
	}
	e, err := wire.VerifyResponse(code, ch, prev.ServerID, prev.LicenseID, keys)
	if err != nil {
		if !errors.Is(err, wire.ErrCodeTypo) {
			m.audit.record(EventRejected, "response code: "+err.Error())
		}
		return m.Status(), err
	}
	now := m.clock.Now()
	if !e.RenewalDate.IsZero() && !now.Before(e.RenewalDate) {
		return m.Status(), fileRejected(ErrEntitlementExpired, fmt.Errorf("renewal date %s has passed", e.RenewalDate.Format(time.DateOnly)))
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
	if err := m.store.saveOffline(lic, nil, "", "response-"+hex.EncodeToString(ch.Nonce[:]), now); err != nil {
		return m.Status(), err
	}
	m.lic.Store(&lic)
	m.audit.record(EventUpgradedOffline, fmt.Sprintf("server %s, license %s: capacity %d, users %d, renewal %s, features %s (response issued %s)",
		lic.ServerID, lic.LicenseID, lic.Capacity, lic.Users, dateOrNone(lic.RenewalDate), strings.Join(lic.Features, ","), e.IssuedAt.Format(time.RFC3339)))
	return m.Status(), nil
}

// offlineGate is the first check of ApplyResponse and ImportEntitlement:
// an administrator, and a context still live.
func offlineGate(ctx context.Context, admins *Admins, sess *AdminSession) error {
	if err := admins.Check(sess); err != nil {
		return err
	}
	return ctx.Err()
}

func dateOrNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.DateOnly)
}

// ---- license files ----

// openedEntitlement is a verified license file.
type openedEntitlement struct {
	token  string
	claims *wire.Claims
	keySet string // the file's root-signed key set, to pin ("" when none)
}

// openEntitlement verifies a license file for this PC. It trusts the keys
// the anchor already holds (a root-verified set) and the file's own key set
// only when the pinned root signed it for this issuer: a key set carried by
// the file is never trusted by itself, so a PC that was never online
// accepts only files that chain to the root it ships with.
func openEntitlement(data []byte, anchor *trustAnchor, vo VerifierOptions, installCode string) (openedEntitlement, error) {
	tampered := func(format string, a ...any) error {
		return fileRejected(ErrEntitlementTampered, fmt.Errorf(format, a...))
	}
	if len(data) > wire.MaxEntitlementFile {
		return openedEntitlement{}, fileRejected(ErrFileTooLarge, fmt.Errorf("%d bytes, at most %d", len(data), wire.MaxEntitlementFile))
	}
	var f wire.EntitlementFile
	if err := json.Unmarshal(data, &f); err != nil {
		return openedEntitlement{}, tampered("not a license file: %v", err)
	}
	if f.Format != wire.EntitlementFormat || f.Version != 1 || f.Entitlement == "" {
		return openedEntitlement{}, tampered("not a version 1 license file")
	}
	var hdr struct {
		Typ string `json:"typ"`
	}
	h64, _, _ := strings.Cut(f.Entitlement, ".")
	if err := decodeSegment(h64, &hdr); err != nil || hdr.Typ != wire.EntitlementType {
		return openedEntitlement{}, tampered("the entitlement is not a license entitlement")
	}
	out := openedEntitlement{token: f.Entitlement}
	keys := anchor.snapshot()
	if f.KeySet != "" {
		set, claims, err := wire.VerifyKeySet(f.KeySet, anchor.root)
		if err != nil {
			return openedEntitlement{}, fileRejected(wire.ErrUntrustedKeySet, err)
		}
		if claims.Issuer != vo.Issuer {
			return openedEntitlement{}, fileRejected(ErrEntitlementForeign, fmt.Errorf("the key set is for %q", claims.Issuer))
		}
		fileKeys, err := set.PublicKeys()
		if err != nil {
			return openedEntitlement{}, tampered("%v", err)
		}
		for kid, k := range fileKeys {
			if pinned, ok := keys[kid]; ok && !pinned.Equal(k) {
				return openedEntitlement{}, tampered("key %q differs from the pinned one", kid)
			}
			keys[kid] = k
		}
		out.keySet = f.KeySet
	}
	if len(keys) == 0 {
		return openedEntitlement{}, fileRejected(wire.ErrUnknownKey, errors.New("the file carries no key set signed by the root and none is pinned"))
	}
	v, err := NewVerifier(vo)
	if err != nil {
		return openedEntitlement{}, err
	}
	v.SetKeys(keys)
	claims, err := v.Verify(f.Entitlement)
	switch {
	case errors.Is(err, ErrTokenExpired):
		return openedEntitlement{}, fileRejected(ErrEntitlementExpired, err)
	case errors.Is(err, wire.ErrUnknownKey):
		return openedEntitlement{}, fileRejected(wire.ErrUnknownKey, errors.New("the file is signed with a key this PC does not know; connect to the authority once"))
	case errors.Is(err, ErrWrongIssuer), errors.Is(err, ErrWrongAudience):
		return openedEntitlement{}, fileRejected(ErrEntitlementForeign, err)
	case err != nil:
		return openedEntitlement{}, fileRejected(ErrEntitlementTampered, err)
	}
	if claims.IssuedAt == nil {
		return openedEntitlement{}, tampered("no issue time")
	}
	if claims.InstallCode == "" || wire.NormalizeInstallCode(claims.InstallCode) != wire.NormalizeInstallCode(installCode) {
		return openedEntitlement{}, fileRejected(ErrEntitlementForeign, fmt.Errorf("it is for install code %q, this PC is %q", claims.InstallCode, installCode))
	}
	out.claims = claims
	return out, nil
}

// ImportEntitlement verifies a license file (.ent) and stores its license
// and token. It needs an administrator session. Refusals are
// *RejectedError: ErrFileTooLarge, ErrEntitlementTampered (damaged,
// truncated, altered, not a license file), ErrEntitlementForeign (another
// PC or authority), ErrEntitlementExpired, ErrEntitlementReplayed (imported
// before, or older than the stored license) or ErrUnknownKey; the stored
// license is then untouched.
func (m *Manager) ImportEntitlement(ctx context.Context, sess *AdminSession, data []byte) (Status, error) {
	if err := offlineGate(ctx, m.admins, sess); err != nil {
		return m.Status(), err
	}
	m.op.Lock()
	defer m.op.Unlock()
	if rb, _ := m.clock.Rollback(); rb {
		return m.Status(), ErrClockRollback
	}
	ep, p := m.ep.Load(), m.Policy()
	c, mv := ep.client, ep.verifier
	if c.anchor == nil {
		return m.Status(), ErrNoRoot
	}
	ent, err := openEntitlement(data, c.anchor, VerifierOptions{Issuer: c.Issuer(), Audience: m.opts.Audience, Leeway: p.Leeway, Now: m.clock.Now}, m.opts.InstallCode)
	if err != nil {
		m.audit.record(EventRejected, "license file: "+err.Error())
		return m.Status(), err
	}
	claims := ent.claims
	iat := claims.IssuedAt.UTC()
	prev := m.lic.Load()
	var refresh string
	if prev != nil {
		if prev.TokenID == claims.ID || iat.Before(prev.TokenIssuedAt) {
			err := fileRejected(ErrEntitlementReplayed, fmt.Errorf("issued %s, the stored license %s", iat.Format(time.RFC3339), prev.TokenIssuedAt.Format(time.RFC3339)))
			m.audit.record(EventRejected, "license file: "+err.Error())
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
	if err := m.store.saveOffline(lic, &Tokens{License: ent.token, Refresh: refresh}, ent.keySet, "entitlement-"+claims.ID, now); err != nil {
		if errors.Is(err, ErrEntitlementReplayed) {
			m.audit.record(EventRejected, "license file: "+err.Error())
		}
		return m.Status(), err
	}
	m.lic.Store(&lic)
	if ent.keySet != "" {
		if set, err := c.anchor.accept(ent.keySet, c.Issuer()); err == nil {
			_ = mv.SetKeySet(set) // validated by accept
		}
	}
	m.audit.record(EventImportedOffline, fmt.Sprintf("server %s, license %s, token %s until %s", lic.ServerID, lic.LicenseID, lic.TokenID, lic.TokenExpiry.Format(time.RFC3339)))
	return m.Status(), nil
}

// ---- offline window ----

func (p Policy) offlineWindow() (window, warn time.Duration) {
	window, warn = p.OfflineWindow, p.OfflineWarn
	if window <= 0 {
		window = wire.OfflineWindow
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
	st.OfflineDays = int(now.Sub(l.OfflineSince) / day)
	left := st.OfflineGraceEnd.Sub(now)
	if left <= 0 {
		st.State = ExpiredRequiresRenewal
		return
	}
	st.OfflineDaysLeft = int((left + day - 1) / day)
	st.OfflineExpiring = left <= warn
}
