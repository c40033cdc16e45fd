package authority

// The license lifecycle after acquisition (issue 5, online half): verify a
// license, change its entitlements, release a device, and switch a license
// between perpetual and subscription with approval on the /switch page.
// Every answer is signed (trust.go). Release and switch need a DPoP proof
// by the key the refresh token was issued to; the switch status needs one
// by the key that asked for the switch; verify takes one if sent.
//
//	POST /licence/verify       client_id, licence_token → {"result","licence_id","type","checked_at"}
//	POST /licence/release      client_id, refresh_token → {"released":true}
//	POST /licence/switch       client_id, refresh_token, to → 202 {"request_id","status","approve_uri"}
//	GET  /licence/switch/{id}  → {"request_id","status","licence_id","from","to"}
//	GET  /switch               signed-in page: table#switch-requests, one tr#switch-<id> per pending
//	                           request with td.device-name, span.from, span.to and a form.switch-form
//	                           (button.approve / button.deny, name=action); p#no-switch-requests when
//	                           none; nav link a#nav-switch on every signed-in page
//	POST /switch               csrf_token, request_id, action=approve|deny → the page with p#switch-message

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

// pSwitch holds switch requests by id. They are kept for switchRetention
// after they were made, long enough for an app that was switched off to
// learn the decision.
const (
	pSwitch         = "switch/"
	switchRetention = 90 * 24 * time.Hour
)

// Switch request states, as GET /licence/switch/{id} reports them.
const (
	switchPending  = wire.SwitchPending
	switchApproved = wire.SwitchApproved
	switchDenied   = wire.SwitchDenied
)

type switchRecord struct {
	ID          string            `json:"id"`
	LicenseID   string            `json:"licence_id"`
	ServerID    string            `json:"server_id"`
	OrgID       string            `json:"org"`
	DeviceName  string            `json:"device_name"`
	From        wire.LicenseType  `json:"from"`
	To          wire.LicenseType  `json:"to"`
	Status      wire.SwitchStatus `json:"status"`
	RequestedAt time.Time         `json:"requested_at"`
	DecidedAt   time.Time         `json:"decided_at,omitzero"`
	DecidedBy   string            `json:"decided_by,omitempty"`
	JKT         string            `json:"jkt,omitempty"` // the DPoP key that asked; only it reads the status
}

// ---- entitlements ----

// Entitlements are what "Download new license" picks up: the device's
// features and the license's modules, users and capacity.
type Entitlements struct {
	Features []string
	Modules  []string
	Users    int
	Capacity int
}

// Entitlements returns a license's current entitlements.
func (s *Server) Entitlements(licenseID string) (Entitlements, error) {
	var e Entitlements
	err := s.guard(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			lic, dev, err := licenseAndDevice(txn, licenseID)
			if err != nil {
				return err
			}
			e = Entitlements{Features: slices.Clone(dev.Features), Modules: slices.Clone(lic.Modules), Users: lic.Users, Capacity: lic.Capacity}
			return nil
		})
	})
	return e, err
}

// SetEntitlements replaces a license's entitlements (all four of them); the
// device's next token carries them.
func (s *Server) SetEntitlements(licenseID string, e Entitlements) error {
	if e.Users < 0 || e.Capacity < 0 {
		return fmt.Errorf("%w: users and capacity must not be negative", ErrInvalidEntitlements)
	}
	return s.guard(func() error {
		err := s.db.Update(func(txn *badger.Txn) error {
			lic, dev, err := licenseAndDevice(txn, licenseID)
			if err != nil {
				return err
			}
			dev.Features = append([]string{}, e.Features...)
			lic.Modules, lic.Users, lic.Capacity = slices.Clone(e.Modules), e.Users, e.Capacity
			if err := putDevice(txn, dev); err != nil {
				return err
			}
			return setJSON(txn, pLicense+lic.ID, lic, 0)
		})
		if err != nil {
			return err
		}
		s.log.Info().Str("lid", licenseID).Msg("entitlements changed")
		return nil
	})
}

// licenseAndDevice loads a license and the device it belongs to.
func licenseAndDevice(txn *badger.Txn, licenseID string) (*licenseRecord, *deviceRecord, error) {
	var lic licenseRecord
	var dev deviceRecord
	err := getJSON(txn, pLicense+licenseID, &lic)
	if err == nil {
		err = getJSON(txn, pDevice+lic.ServerID, &dev)
	}
	if errors.Is(err, errNotFound) {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownLicense, licenseID)
	}
	return &lic, &dev, err
}

// ---- verify ----

// publicKey finds one of this authority's keys by kid, retired ones
// included: verification asks whether we issued a token, not whether it may
// still be used.
func (r *keyRing) publicKey(kid string) (ed25519.PublicKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.all {
		if k.Kid == kid {
			return ed25519.NewKeyFromSeed(k.Seed).Public().(ed25519.PublicKey), true
		}
	}
	return nil, false
}

// verifyLicense checks that licence_token is one of ours — signature, issuer
// and audience; an expired token is fine — and reports its license's state.
func (s *Server) verifyLicense(form url.Values, _, jkt string) (any, *oauthError) {
	raw := form.Get("licence_token")
	if raw == "" {
		return nil, badRequest(wire.CodeInvalidRequest, "licence_token is required")
	}
	notOurs := badRequest(wire.CodeInvalidGrant, "the license token was not issued by this authorization server")
	if len(raw) > wire.MaxTokenSize {
		return nil, notOurs
	}
	var claims wire.Claims
	_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if pub, ok := s.keys.publicKey(kid); ok {
			return pub, nil
		}
		return nil, errors.New("unknown kid")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithoutClaimsValidation())
	if err != nil || claims.Issuer != s.opts.Issuer || !slices.Contains(claims.Audience, wire.DefaultAudience) {
		return nil, notOurs
	}
	// A token bound to a key (cnf) is verified only for its holder: a copy
	// of the data folder without the install key learns nothing.
	if claims.Confirmation != nil && claims.Confirmation.JKT != jkt {
		return nil, keyMismatch(wire.CodeInvalidGrant, "the license token is held by another installation key")
	}
	var lic licenseRecord
	err = s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pLicense+claims.LicenseID, &lic) })
	if errors.Is(err, errNotFound) || (err == nil && lic.ServerID != claims.Subject) {
		return nil, badRequest(wire.CodeInvalidGrant, "the license of this token no longer exists")
	}
	if err != nil {
		s.log.Error().Err(err).Msg("verify license")
		return nil, errServer
	}
	now := s.now()
	result := wire.VerifyValid
	switch {
	case lic.Revoked:
		result = wire.VerifyRevoked
	case !lic.RenewalDate.IsZero() && !now.Before(lic.RenewalDate):
		result = wire.VerifyExpired
	}
	s.log.Info().Str("lid", lic.ID).Str("sub", claims.Subject).Str("result", string(result)).Msg("license verified")
	return &wire.VerifyAnswer{Result: result, LicenseID: lic.ID, Type: lic.Type, CheckedAt: now.UTC().Truncate(time.Second)}, nil
}

// ---- refresh-token holders: release and switch ----

// refreshHolder finds the device that holds an unused refresh token of a
// live chain, asked with the chain's DPoP key. With allowExpired an expired
// token still counts: a license left alone past its renewal date must
// still be removable.
func refreshHolder(txn *badger.Txn, clientID, refresh, jkt string, allowExpired bool, now time.Time) (refreshRecord, *oauthError, error) {
	rt, _, refused, err := chainHolder(txn, clientID, refresh, jkt)
	switch {
	case refused != nil || err != nil:
		return rt, refused, err
	case rt.Used:
		return rt, badRequest(wire.CodeInvalidGrant, "refresh token has already been used"), nil
	case !allowExpired && !now.Before(rt.ExpiresAt):
		return rt, badRequest(wire.CodeInvalidGrant, "refresh token has expired"), nil
	}
	return rt, nil, nil
}

// update runs fn in a transaction and turns its refusal or failure into the
// endpoint's answer.
func (s *Server) update(what string, fn func(txn *badger.Txn) (*oauthError, error)) *oauthError {
	var refused *oauthError
	err := s.db.Update(func(txn *badger.Txn) error {
		var err error
		refused, err = fn(txn)
		if refused != nil {
			return nil
		}
		return err
	})
	if errors.Is(err, badger.ErrConflict) {
		return badRequest(wire.CodeInvalidGrant, "the license changed meanwhile; try again")
	}
	if err != nil {
		s.log.Error().Err(err).Msg(what)
		return errServer
	}
	return refused
}

// release ends the chain of the device holding refresh — its refresh
// tokens are deleted — and withdraws its pending switch requests, so that a
// removed license cannot be renewed from a stale copy and the device can be
// acquired afresh.
func (s *Server) release(form url.Values, clientID, jkt string) (any, *oauthError) {
	now := s.now()
	var serverID string
	e := s.update("release", func(txn *badger.Txn) (*oauthError, error) {
		rt, refused, err := refreshHolder(txn, clientID, form.Get("refresh_token"), jkt, true, now)
		if refused != nil || err != nil {
			return refused, err
		}
		serverID = rt.ServerID
		var spent [][]byte
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pRefresh), PrefetchValues: true})
		for it.Rewind(); it.Valid(); it.Next() {
			var r refreshRecord
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err == nil && r.Chain == rt.Chain {
				spent = append(spent, it.Item().KeyCopy(nil))
			}
		}
		it.Close()
		spent = append(spent, []byte(pChain+rt.Chain), []byte(pGrace+rt.Chain), []byte(pLive+serverID))
		for _, k := range spent {
			if err := txn.Delete(k); err != nil {
				return nil, err
			}
		}
		return nil, s.closeSwitches(txn, serverID, "released", now)
	})
	if e != nil {
		return nil, e
	}
	s.log.Info().Str("sub", serverID).Msg("device released")
	return wire.ReleaseAnswer{Released: true}, nil
}

// closeSwitches denies the device's pending switch requests.
func (s *Server) closeSwitches(txn *badger.Txn, serverID, by string, now time.Time) error {
	var open []switchRecord
	err := scanJSON(txn, pSwitch, func(r *switchRecord) error {
		if r.ServerID == serverID && r.Status == switchPending {
			open = append(open, *r)
		}
		return nil
	})
	for i := 0; err == nil && i < len(open); i++ {
		open[i].Status, open[i].DecidedAt, open[i].DecidedBy = switchDenied, now.UTC(), by
		err = putSwitch(txn, &open[i], now)
	}
	return err
}

func putSwitch(txn *badger.Txn, r *switchRecord, now time.Time) error {
	return setJSON(txn, pSwitch+r.ID, r, r.RequestedAt.Add(switchRetention).Sub(now))
}

func (s *Server) switchAnswer(r *switchRecord) *wire.SwitchAnswer {
	return &wire.SwitchAnswer{RequestID: r.ID, Status: r.Status, ApproveURI: s.opts.Issuer + "/switch",
		LicenseID: r.LicenseID, From: r.From, To: r.To}
}

// handleSwitchRequest is POST /licence/switch: 202 with a pending request.
// Asking again for the same change returns the request already pending;
// asking for the other change replaces it.
func (s *Server) handleSwitchRequest(w http.ResponseWriter, r *http.Request) {
	form, clientID, e := s.oauthForm(w, r)
	var rec switchRecord
	if e == nil {
		rec, e = s.requestSwitch(form, clientID, proofOf(r))
	}
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	writeJSON(w, http.StatusAccepted, s.switchAnswer(&rec))
}

func (s *Server) requestSwitch(form url.Values, clientID, jkt string) (switchRecord, *oauthError) {
	to := wire.LicenseType(form.Get("to"))
	if to != wire.Perpetual && to != wire.Subscription {
		return switchRecord{}, badRequest(wire.CodeInvalidRequest, "to must be perpetual or subscription")
	}
	id, err := randomToken(16)
	if err != nil {
		return switchRecord{}, errServer
	}
	now := s.now()
	var rec switchRecord
	e := s.update("switch request", func(txn *badger.Txn) (*oauthError, error) {
		rt, refused, err := refreshHolder(txn, clientID, form.Get("refresh_token"), jkt, false, now)
		if refused != nil || err != nil {
			return refused, err
		}
		var dev deviceRecord
		var lic licenseRecord
		if err := getJSON(txn, pDevice+rt.ServerID, &dev); err != nil {
			return badRequest(wire.CodeInvalidGrant, "the device is no longer registered"), nil
		}
		if err := getJSON(txn, pLicense+dev.LicenseID, &lic); err != nil {
			return badRequest(wire.CodeAccessDenied, "the device has no license"), nil
		}
		switch {
		case lic.Revoked:
			return withReason(wire.CodeAccessDenied, wire.ReasonLicenseRevoked, "license revoked"), nil
		case lic.expired(now):
			return withReason(wire.CodeInvalidGrant, wire.ReasonLicenseExpired,
				"the license expired on "+lic.RenewalDate.UTC().Format("2 Jan 2006")+"; renew it before switching"), nil
		case lic.Type == to:
			return badRequest(wire.CodeInvalidRequest, "the license is already "+string(to)), nil
		}
		var same *switchRecord
		err = scanJSON(txn, pSwitch, func(r *switchRecord) error {
			if r.ServerID == dev.ServerID && r.Status == switchPending && r.To == to {
				same = r
			}
			return nil
		})
		if same != nil || err != nil {
			if same != nil {
				rec = *same
			}
			return nil, err
		}
		if err := s.closeSwitches(txn, dev.ServerID, "superseded", now); err != nil {
			return nil, err
		}
		rec = switchRecord{ID: id, LicenseID: lic.ID, ServerID: dev.ServerID, OrgID: dev.OrgID, DeviceName: dev.Name,
			From: lic.Type, To: to, Status: switchPending, RequestedAt: now.UTC(), JKT: jkt}
		return nil, putSwitch(txn, &rec, now)
	})
	if e == nil {
		s.log.Info().Str("sub", rec.ServerID).Str("lid", rec.LicenseID).Str("to", string(to)).Msg("license switch requested")
	}
	return rec, e
}

// handleSwitchStatus is GET /licence/switch/{id}. The id is a 128-bit
// secret, and the request must come with a DPoP proof by the key that
// asked for the switch.
func (s *Server) handleSwitchStatus(w http.ResponseWriter, r *http.Request) {
	var rec switchRecord
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pSwitch+r.PathValue("id"), &rec) })
	switch jkt := proofOf(r); {
	case jkt == "":
		writeOAuthError(w, keyMismatch(wire.CodeInvalidRequest, "a DPoP proof made with this installation's key is required"))
	case errors.Is(err, errNotFound):
		writeOAuthError(w, oerr(http.StatusNotFound, wire.CodeNotFound, "unknown switch request"))
	case err != nil:
		writeOAuthError(w, errServer)
	case rec.JKT != jkt:
		writeOAuthError(w, keyMismatch(wire.CodeInvalidRequest, "the switch was requested with another key"))
	default:
		ans := s.switchAnswer(&rec)
		ans.ApproveURI = ""
		writeJSON(w, http.StatusOK, ans)
	}
}

// ---- the /switch page ----

// pendingSwitches lists the organization's pending requests ("": every
// organization's), oldest first.
func (s *Server) pendingSwitches(org string) ([]switchRecord, error) {
	var out []switchRecord
	err := s.db.View(func(txn *badger.Txn) error {
		return scanJSON(txn, pSwitch, func(r *switchRecord) error {
			if (org == "" || r.OrgID == org) && r.Status == switchPending {
				out = append(out, *r)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b switchRecord) int { return a.RequestedAt.Compare(b.RequestedAt) })
	return out, err
}

// switchScope is the organization whose requests a person sees and
// decides: vendor staff every one (""), a customer's user its own.
func (dc deviceContext) switchScope() string {
	if dc.vendor {
		return ""
	}
	return dc.sess.org
}

func (s *Server) renderSwitches(w http.ResponseWriter, dc deviceContext, status int, msg string) {
	list, err := s.pendingSwitches(dc.switchScope())
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, dc.sess, "Please try again.")
		return
	}
	d := dc.page("License changes")
	d.Switches, d.Message = list, msg
	s.render(w, status, "switch", d)
}

func (s *Server) handleSwitchPage(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.currentSession(w, r, false)
	if dc, ok := s.orgDevices(w, r, sess); ok {
		s.renderSwitches(w, dc, http.StatusOK, "")
	}
}

func (s *Server) handleSwitchDecision(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.postForm(w, r)
	if !ok {
		return
	}
	dc, ok := s.orgDevices(w, r, sess)
	if !ok {
		return
	}
	if !dc.vendor {
		s.renderError(w, http.StatusForbidden, sess, "Only the license vendor's staff may approve or deny a license change. Your request is waiting for them.")
		return
	}
	action := r.PostFormValue("action")
	if action != "approve" && action != "deny" {
		s.renderError(w, http.StatusBadRequest, sess, "Choose Approve or Deny.")
		return
	}
	rec, err := s.decideSwitch(r.PostFormValue("request_id"), dc.switchScope(), action == "approve", sess.user)
	switch {
	case errors.Is(err, ErrLicenseExpired):
		s.renderSwitches(w, dc, http.StatusConflict, fmt.Sprintf("Refused: %s. The request is closed.", strings.TrimPrefix(err.Error(), ErrLicenseExpired.Error()+": ")))
	case errors.Is(err, errUnknownSwitch):
		s.renderError(w, http.StatusNotFound, sess, "There is no such license change request in this organization.")
	case errors.Is(err, errDecided):
		s.renderError(w, http.StatusConflict, sess, "This license change was already answered.")
	case err != nil:
		s.renderError(w, http.StatusInternalServerError, sess, "The decision could not be saved; please try again.")
	case action == "approve":
		s.renderSwitches(w, dc, http.StatusOK, fmt.Sprintf("Approved: the license of %s is now %s.", rec.DeviceName, rec.To))
	default:
		s.renderSwitches(w, dc, http.StatusOK, fmt.Sprintf("Denied: the license of %s stays %s.", rec.DeviceName, rec.From))
	}
}

// DecideSwitch approves or denies a pending switch request, as the /switch
// page does, on behalf of by (for the command line and tests). org limits
// the request to one organization; "" allows any.
func (s *Server) DecideSwitch(requestID, org string, approve bool, by string) error {
	return s.guard(func() error {
		_, err := s.decideSwitch(requestID, org, approve, by)
		return err
	})
}

// decideSwitch records the decision, with its audit entry, and on approval
// changes the license in the same transaction. An expired license is not
// switched: the request is closed as denied and the answer is
// ErrLicenseExpired with the date. Switching to perpetual keeps the
// subscription's renewal date aside and switching back restores it, so a
// round trip never buys a new term; only a license that never had one
// starts a first year. A kept date that has passed refuses the switch back
// the same way. License ID and Server ID stay, so the device's refresh
// token keeps working and its next token carries the type.
func (s *Server) decideSwitch(id, org string, approve bool, by string) (switchRecord, error) {
	now := s.now()
	var rec switchRecord
	var refused error
	err := s.retryUpdate(func(txn *badger.Txn) error {
		refused = nil
		if err := getJSON(txn, pSwitch+id, &rec); errors.Is(err, errNotFound) || (err == nil && org != "" && rec.OrgID != org) {
			return errUnknownSwitch
		} else if err != nil {
			return err
		}
		if rec.Status != switchPending {
			return errDecided
		}
		rec.Status, rec.DecidedAt, rec.DecidedBy = switchDenied, now.UTC(), by
		action := AuditSwitchDenied
		if approve {
			var lic licenseRecord
			if err := getJSON(txn, pLicense+rec.LicenseID, &lic); err != nil {
				return err
			}
			if refused = switchLicense(&lic, rec.To, now); refused != nil {
				action = AuditSwitchRefused
			} else {
				rec.Status, action = switchApproved, AuditSwitchApproved
				if err := setJSON(txn, pLicense+lic.ID, &lic, 0); err != nil {
					return err
				}
			}
		}
		detail := fmt.Sprintf("%s (%s): %s to %s", rec.DeviceName, rec.ServerID, rec.From, rec.To)
		if refused != nil {
			detail += "; " + refused.Error()
		}
		if err := s.appendAudit(txn, AuditEntry{Actor: by, Action: action, Subject: rec.LicenseID, Detail: detail}); err != nil {
			return err
		}
		return putSwitch(txn, &rec, now)
	})
	if err == nil {
		s.log.Info().Str("user", by).Str("lid", rec.LicenseID).Str("to", string(rec.To)).Str("status", string(rec.Status)).Msg("license switch decided")
		err = refused
	}
	return rec, err
}

// switchLicense changes lic to type to at now, or says why it may not.
func switchLicense(lic *licenseRecord, to wire.LicenseType, now time.Time) error {
	if lic.expired(now) {
		return fmt.Errorf("%w: the license expired on %s; renew it before switching", ErrLicenseExpired, lic.RenewalDate.UTC().Format("2 Jan 2006"))
	}
	switch to {
	case wire.Perpetual:
		if !lic.RenewalDate.IsZero() {
			lic.SubscriptionRenewal = lic.RenewalDate
		}
		lic.RenewalDate = time.Time{}
	case wire.Subscription:
		renewal := lic.SubscriptionRenewal
		if renewal.IsZero() {
			renewal = now.AddDate(1, 0, 0).UTC().Truncate(time.Second) // a first term
		} else if !now.Before(renewal) {
			return fmt.Errorf("%w: its subscription ended on %s; renew it before switching back", ErrLicenseExpired, renewal.UTC().Format("2 Jan 2006"))
		}
		lic.RenewalDate, lic.SubscriptionRenewal = renewal, time.Time{}
	}
	lic.Type = to
	return nil
}
