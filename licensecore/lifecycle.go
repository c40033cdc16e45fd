package licensecore

// The online half of the license lifecycle (issue 5): Verify License,
// Download new license, Remove license and Switch model (perpetual ↔
// subscription). Removing and switching change what this server may do, so
// they need a System Administrator's session; verifying and downloading do
// not.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// DefaultVerifyInterval: subscription licenses are verified online once a
// day.
const DefaultVerifyInterval = 24 * time.Hour

// Lifecycle outcomes the person must act on.
var (
	ErrSwitchSameType = errors.New("the license already has that type")
	ErrSwitchPending  = errors.New("another license change is already waiting for approval")
)

// Audit event kinds of the lifecycle.
const (
	EventDownloaded      = "downloaded"
	EventSwitchRequested = "switch_requested"
	EventSwitched        = "switched"
	EventSwitchDenied    = "switch_denied"
)

// maxLifecycleAnswer bounds the JSON answers of the lifecycle endpoints.
const maxLifecycleAnswer = 64 << 10

// ---- the wire ----

type verifyReply struct {
	Result    VerifyResult `json:"result"`
	LicenseID string       `json:"licence_id"`
	Type      LicenseType  `json:"type"`
	CheckedAt time.Time    `json:"checked_at"`
}

type switchReply struct {
	RequestID  string       `json:"request_id"`
	Status     SwitchStatus `json:"status"`
	ApproveURI string       `json:"approve_uri"`
}

// call sends one request to a lifecycle endpoint (client_id is added to
// form) and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, form url.Values, grantKind error, out any) error {
	var body io.Reader
	if form != nil {
		form.Set("client_id", c.cfg.ClientID)
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, raw, err := c.roundTrip(req, maxLifecycleAnswer)
	if err != nil {
		return err
	}
	return decodeAnswer(path, resp.StatusCode, raw, grantKind, out)
}

// decodeAnswer turns a lifecycle endpoint's answer into out or an error: an
// RFC 6749 error body becomes an *AuthorityError whose Kind is grantKind for
// invalid_grant; anything else unexpected is ErrAuthorityBroken.
func decodeAnswer(path string, status int, raw []byte, grantKind error, out any) error {
	if len(raw) > maxLifecycleAnswer || !json.Valid(raw) {
		return fmt.Errorf("%w: %s answered %d without JSON", ErrAuthorityBroken, path, status)
	}
	if status < 200 || status > 299 {
		var oe struct {
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(raw, &oe) != nil || oe.Code == "" {
			return fmt.Errorf("%w: %s answered %d", ErrAuthorityBroken, path, status)
		}
		kind := ErrAuthorityBroken
		revoked := strings.Contains(strings.ToLower(oe.Description), "revoked")
		switch {
		case revoked && (oe.Code == "access_denied" || oe.Code == "invalid_grant"):
			kind = ErrLicenseRevoked
		case oe.Code == "access_denied":
			kind = ErrAccessDenied
		case oe.Code == "invalid_grant":
			kind = grantKind
		case status == http.StatusNotFound:
			kind = ErrNotFound
		}
		return &AuthorityError{Code: oe.Code, Description: oe.Description, Kind: kind}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrAuthorityBroken, path, err)
	}
	return nil
}

// verifyLicense asks the authority about the license of token.
func (c *Client) verifyLicense(ctx context.Context, token string) (verifyReply, error) {
	var r verifyReply
	err := c.call(ctx, http.MethodPost, "/licence/verify", url.Values{"licence_token": {token}}, ErrTokenInvalid, &r)
	return r, err
}

// release tells the authority this device gives its license up.
func (c *Client) release(ctx context.Context, refresh string) error {
	var r struct {
		Released bool `json:"released"`
	}
	err := c.call(ctx, http.MethodPost, "/licence/release", url.Values{"refresh_token": {refresh}}, ErrRefreshRejected, &r)
	if err == nil && !r.Released {
		err = fmt.Errorf("%w: the license was not released", ErrAuthorityBroken)
	}
	return err
}

func (c *Client) requestSwitch(ctx context.Context, refresh string, to LicenseType) (switchReply, error) {
	var r switchReply
	err := c.call(ctx, http.MethodPost, "/licence/switch", url.Values{"refresh_token": {refresh}, "to": {string(to)}}, ErrRefreshRejected, &r)
	if err == nil && (r.RequestID == "" || r.Status != SwitchPending) {
		err = fmt.Errorf("%w: switch request answered without a pending request", ErrAuthorityBroken)
	}
	return r, err
}

func (c *Client) switchStatus(ctx context.Context, id string) (SwitchStatus, error) {
	var r switchReply
	err := c.call(ctx, http.MethodGet, "/licence/switch/"+url.PathEscape(id), nil, ErrRefreshRejected, &r)
	if err == nil && r.Status != SwitchPending && r.Status != SwitchApproved && r.Status != SwitchDenied {
		err = fmt.Errorf("%w: switch status %q", ErrAuthorityBroken, r.Status)
	}
	return r.Status, err
}

// ---- Verify License ----

// VerifyDue reports whether the background loop should call Verify: the
// license is a subscription and was never verified, was last found
// unreachable, or was verified VerifyInterval (default a day) ago or more.
// Perpetual licenses are verified only on request. The app calls Verify
// only when the authority is reachable (CheckHealth) and backs off on
// failures itself.
func (m *Manager) VerifyDue() bool {
	m.mu.Lock()
	lic := m.lic
	m.mu.Unlock()
	if lic == nil || lic.Type != Subscription {
		return false
	}
	if lic.LastVerifyTime.IsZero() || lic.LastVerifyResult == VerifyUnreachable || lic.LastVerifyResult == VerifyNever {
		return true
	}
	every := m.opts.VerifyInterval
	if every <= 0 {
		every = DefaultVerifyInterval
	}
	return !m.clock.Now().Before(lic.LastVerifyTime.Add(every))
}

// Verify checks the current license online and records Last verify time
// and Last verify result (valid, expired or revoked; a perpetual license is
// valid unless revoked). The outcome is in the returned Status's License,
// and a completed check returns a nil error whatever its result. When the
// authority cannot be reached (or answers nonsense) the result
// "unreachable" is recorded and the error wraps ErrAuthorityDown. A token
// the authority does not recognise records nothing and returns an
// *AuthorityError wrapping ErrTokenInvalid.
func (m *Manager) Verify(ctx context.Context) (Status, error) {
	m.mu.Lock()
	lic := m.lic
	m.mu.Unlock()
	if lic == nil {
		return m.Status(), ErrNotLicensed
	}
	toks, err := m.store.Tokens()
	if err != nil {
		return m.Status(), err
	}
	c, _, _ := m.parts()
	ans, err := c.verifyLicense(ctx, toks.License)
	result := ans.Result
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		return m.Status(), ctx.Err()
	case errors.Is(err, ErrAuthorityDown):
		result = VerifyUnreachable
	case errors.Is(err, ErrAuthorityBroken):
		result, err = VerifyUnreachable, fmt.Errorf("%w: %w", ErrAuthorityDown, err)
	case err != nil:
		return m.Status(), err
	case ans.LicenseID != lic.LicenseID:
		return m.Status(), fmt.Errorf("%w: verification answered for license %q, this one is %q", ErrAuthorityBroken, ans.LicenseID, lic.LicenseID)
	case result != VerifyValid && result != VerifyExpired && result != VerifyRevoked:
		return m.Status(), fmt.Errorf("%w: verification result %q", ErrAuthorityBroken, result)
	}
	if serr := m.recordVerify(lic.LicenseID, result); serr != nil {
		return m.Status(), serr
	}
	return m.Status(), err
}

// recordVerify stores a verification result on the license it was made
// for; a refresh or removal in the meantime is respected.
func (m *Manager) recordVerify(licenseID string, result VerifyResult) error {
	m.refresh.Lock()
	defer m.refresh.Unlock()
	m.mu.Lock()
	cur := m.lic
	m.mu.Unlock()
	if cur == nil || cur.LicenseID != licenseID {
		return fmt.Errorf("%w: the license was removed during verification", ErrNotLicensed)
	}
	now := m.clock.Now()
	upd := *cur
	upd.LastVerifyTime, upd.LastVerifyResult = now, result
	if result != VerifyUnreachable {
		upd.OfflineSince = now // contact with the authority restarts the offline window
	}
	if err := m.store.UpdateLicense(upd); err != nil {
		return err
	}
	m.mu.Lock()
	m.lic = &upd
	m.mu.Unlock()
	m.audit(EventVerified, fmt.Sprintf("license %s: %s", licenseID, result))
	return nil
}

// ---- Download new license ----

// Change is one license field that a download changed. Old and New are the
// field as the details screen shows it ("" when empty); lists are sorted
// and joined with ", ", dates are YYYY-MM-DD.
type Change struct {
	Field, Old, New string
}

// Names of the fields a Change reports.
const (
	FieldFeatures      = "Features"
	FieldModules       = "Modules"
	FieldUsers         = "Users"
	FieldCapacity      = "Capacity"
	FieldType          = "Type"
	FieldRenewalDate   = "Renewal date"
	FieldCustomer      = "Customer"
	FieldHubServerName = "Hub server name"
	FieldHubServerURL  = "Hub server URL"
	FieldAccountNumber = "Account number"
	FieldSerialNumber  = "Serial number"
	FieldTransactionID = "Transaction ID"
	FieldDeviceName    = "Device name"
)

func listText(l []string) string {
	s := slices.Clone(l)
	slices.Sort(s)
	return strings.Join(s, ", ")
}

func countText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// changedFields lists, in a fixed order, the entitlement fields that differ
// between two versions of a license.
func changedFields(a, b License) []Change {
	fields := []struct {
		name string
		text func(License) string
	}{
		{FieldFeatures, func(l License) string { return listText(l.Features) }},
		{FieldModules, func(l License) string { return listText(l.Modules) }},
		{FieldUsers, func(l License) string { return countText(l.Users) }},
		{FieldCapacity, func(l License) string { return countText(l.Capacity) }},
		{FieldType, func(l License) string { return string(l.Type) }},
		{FieldRenewalDate, func(l License) string { return dateText(l.RenewalDate) }},
		{FieldCustomer, func(l License) string { return l.Customer }},
		{FieldHubServerName, func(l License) string { return l.HubServerName }},
		{FieldHubServerURL, func(l License) string { return l.HubServerURL }},
		{FieldAccountNumber, func(l License) string { return l.AccountNumber }},
		{FieldSerialNumber, func(l License) string { return l.SerialNumber }},
		{FieldTransactionID, func(l License) string { return l.TransactionID }},
		{FieldDeviceName, func(l License) string { return l.DeviceName }},
	}
	var out []Change
	for _, f := range fields {
		if o, n := f.text(a), f.text(b); o != n {
			out = append(out, Change{Field: f.name, Old: o, New: n})
		}
	}
	return out
}

// DownloadLicense fetches a fresh license token (the refresh grant) so
// that modules, users, capacity and the other entitlements added at the
// authority take effect, and reports which fields changed (none: an empty
// slice). Errors are RefreshNow's.
func (m *Manager) DownloadLicense(ctx context.Context) (Status, []Change, error) {
	m.refresh.Lock()
	defer m.refresh.Unlock()
	m.mu.Lock()
	old := m.lic
	m.mu.Unlock()
	if old == nil {
		return m.Status(), nil, ErrNotLicensed
	}
	st, err := m.refreshLocked(ctx)
	if err != nil {
		return st, nil, err
	}
	m.mu.Lock()
	cur := m.lic
	m.mu.Unlock()
	changes := changedFields(*old, *cur)
	detail := make([]string, 0, len(changes))
	for _, c := range changes {
		detail = append(detail, fmt.Sprintf("%s: %q → %q", c.Field, c.Old, c.New))
	}
	m.audit(EventDownloaded, fmt.Sprintf("license %s: %d changes %s", cur.LicenseID, len(changes), strings.Join(detail, "; ")))
	if changes == nil {
		changes = []Change{}
	}
	return st, changes, nil
}

// ---- Remove license ----

// RemoveOptions modify Remove.
type RemoveOptions struct {
	// Force removes the license here even when the authority cannot be
	// told (offline, or it no longer knows this device's refresh token,
	// which it forgets 90 days after issue). The authority then still
	// counts the device as licensed until the license is released there.
	Force bool
}

// Remove gives the license up (protected: sess must be a live
// administrator session, else ErrAdminRequired and nothing changes). The
// authority is told first (it invalidates this device's refresh tokens and
// frees the device for a new acquisition); then the license, its tokens and
// any pending switch are deleted here, keeping the audit log and the pinned
// key set. The status becomes Unlicensed. If the authority cannot be
// reached the error wraps ErrAuthorityDown and nothing changes, unless
// opts.Force.
func (m *Manager) Remove(ctx context.Context, sess *AdminSession, opts RemoveOptions) error {
	if err := m.requireAdmin(sess); err != nil {
		return err
	}
	m.refresh.Lock()
	defer m.refresh.Unlock()
	toks, err := m.store.Tokens()
	if err != nil {
		return err
	}
	m.mu.Lock()
	lic := m.lic
	m.mu.Unlock()
	c, _, _ := m.parts()
	rerr := c.release(ctx, toks.Refresh)
	if rerr != nil && (!opts.Force || ctx.Err() != nil) {
		return rerr
	}
	if err := m.store.DeleteLicense(); err != nil {
		return err
	}
	if err := m.store.clearSwitch(); err != nil {
		m.log.Warn().Err(err).Msg("could not clear the pending switch")
	}
	m.mu.Lock()
	m.lic = nil
	m.mu.Unlock()
	detail := "license removed by " + sess.User()
	if lic != nil {
		detail = fmt.Sprintf("license %s of server %s removed by %s", lic.LicenseID, lic.ServerID, sess.User())
	}
	if rerr != nil {
		detail += fmt.Sprintf("; forced, the authority was not told (%v)", rerr)
	}
	m.audit(EventRemoved, detail)
	m.log.Info().Bool("forced", rerr != nil).Msg("license removed")
	return nil
}

// ---- Switch model ----

// SwitchStatus is the state of a switch request at the authority.
type SwitchStatus string

// Switch request states.
const (
	SwitchPending  SwitchStatus = "pending"
	SwitchApproved SwitchStatus = "approved"
	SwitchDenied   SwitchStatus = "denied"
)

// SwitchRequest is a request to change the license between perpetual and
// subscription. ApproveURI is the authority's page where someone of the
// organization approves it.
type SwitchRequest struct {
	ID          string       `json:"id"`
	LicenseID   string       `json:"licence_id"`
	From        LicenseType  `json:"from"`
	To          LicenseType  `json:"to"`
	Status      SwitchStatus `json:"status"`
	ApproveURI  string       `json:"approve_uri"`
	RequestedAt time.Time    `json:"requested_at"`
}

func (s *Store) saveSwitch(r SwitchRequest) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.put(keySwitch, raw)
}

func (s *Store) clearSwitch() error {
	return s.update(func(txn *badger.Txn) error { return txn.Delete([]byte(keySwitch)) })
}

// PendingSwitch returns the switch request awaiting a decision, if any. It
// survives restarts: the app polls it with CheckSwitch.
func (m *Manager) PendingSwitch() (SwitchRequest, bool) {
	var r SwitchRequest
	if err := m.store.getJSON(keySwitch, &r); err != nil {
		return SwitchRequest{}, false
	}
	return r, true
}

// RequestSwitch asks the authority to change the license to type to
// (protected: sess must be a live administrator session, else
// ErrAdminRequired and nothing changes). The request is stored and stays
// pending until someone approves or denies it on the authority's page
// (ApproveURI); poll CheckSwitch. Asking again for the same change returns
// the pending request; asking for another while one is pending is
// ErrSwitchPending, and for the current type ErrSwitchSameType.
func (m *Manager) RequestSwitch(ctx context.Context, sess *AdminSession, to LicenseType) (SwitchRequest, error) {
	if err := m.requireAdmin(sess); err != nil {
		return SwitchRequest{}, err
	}
	if to != Perpetual && to != Subscription {
		return SwitchRequest{}, fmt.Errorf("license type %q is neither perpetual nor subscription", to)
	}
	m.refresh.Lock() // the refresh token must not rotate under the request
	defer m.refresh.Unlock()
	m.mu.Lock()
	lic := m.lic
	m.mu.Unlock()
	if lic == nil {
		return SwitchRequest{}, ErrNotLicensed
	}
	if p, ok := m.PendingSwitch(); ok {
		if p.To == to && p.Status == SwitchPending {
			return p, nil
		}
		return p, ErrSwitchPending
	}
	if lic.Type == to {
		return SwitchRequest{}, fmt.Errorf("%w (%s)", ErrSwitchSameType, to)
	}
	toks, err := m.store.Tokens()
	if err != nil {
		return SwitchRequest{}, err
	}
	c, _, _ := m.parts()
	ans, err := c.requestSwitch(ctx, toks.Refresh, to)
	if err != nil {
		return SwitchRequest{}, err
	}
	req := SwitchRequest{ID: ans.RequestID, LicenseID: lic.LicenseID, From: lic.Type, To: to, Status: SwitchPending,
		ApproveURI: ans.ApproveURI, RequestedAt: m.clock.Now()}
	if err := m.store.saveSwitch(req); err != nil {
		return SwitchRequest{}, err
	}
	m.audit(EventSwitchRequested, fmt.Sprintf("license %s: %s → %s requested by %s", lic.LicenseID, lic.Type, to, sess.User()))
	return req, nil
}

// CheckSwitch asks the authority about the pending switch request. While
// it is pending it returns it with a nil error. Once approved it refreshes
// the license token, which carries the new type (same Server ID, same
// license ID, same activation), and clears the request; if that refresh
// fails the request stays (Status approved) and the next CheckSwitch tries
// again. Denied clears the request and returns an error wrapping
// ErrAccessDenied; a request the authority no longer knows is cleared with
// an error wrapping ErrNotFound. Without a pending request the error wraps
// ErrNotFound.
func (m *Manager) CheckSwitch(ctx context.Context) (SwitchRequest, Status, error) {
	p, ok := m.PendingSwitch()
	if !ok {
		return SwitchRequest{}, m.Status(), fmt.Errorf("%w: no license change is waiting", ErrNotFound)
	}
	c, _, _ := m.parts()
	status, err := c.switchStatus(ctx, p.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		m.finishSwitch(EventSwitchDenied, p, "the authority no longer knows the request")
		return p, m.Status(), err
	case err != nil:
		return p, m.Status(), err
	}
	p.Status = status
	switch status {
	case SwitchDenied:
		m.finishSwitch(EventSwitchDenied, p, "denied")
		return p, m.Status(), fmt.Errorf("%w: the change to a %s license was denied at the authority", ErrAccessDenied, p.To)
	case SwitchApproved:
		if err := m.store.saveSwitch(p); err != nil {
			return p, m.Status(), err
		}
		m.refresh.Lock()
		st, err := m.refreshLocked(ctx)
		m.refresh.Unlock()
		var ae *AuthorityError
		if err != nil && !errors.As(err, &ae) {
			return p, st, err // try again on the next check
		}
		m.finishSwitch(EventSwitched, p, "approved")
		return p, m.Status(), err
	}
	return p, m.Status(), nil
}

func (m *Manager) finishSwitch(event string, p SwitchRequest, how string) {
	if err := m.store.clearSwitch(); err != nil {
		m.log.Warn().Err(err).Msg("could not clear the pending switch")
	}
	m.audit(event, fmt.Sprintf("license %s: %s → %s %s", p.LicenseID, p.From, p.To, how))
}
