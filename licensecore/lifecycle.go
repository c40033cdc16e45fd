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
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"licensedesk/licensecore/wire"
)

// DefaultVerifyInterval: subscription licenses are verified online once a
// day.
const DefaultVerifyInterval = 24 * time.Hour

// Audit event kinds of the lifecycle.
const (
	EventDownloaded      = "downloaded"
	EventSwitchRequested = "switch_requested"
	EventSwitched        = "switched"
	EventSwitchDenied    = "switch_denied"
)

// ---- Verify License ----

// VerifyDue reports whether the background loop should call Verify: the
// license is a subscription and was never verified, was last found
// unreachable, or was verified VerifyInterval (default a day) ago or more.
// Perpetual licenses are verified only on request. The app calls Verify
// only when the authority is reachable (CheckHealth) and backs off on
// failures itself.
func (m *Manager) VerifyDue() bool {
	lic := m.lic.Load()
	if lic == nil || lic.Type != wire.Subscription {
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
	lic := m.lic.Load()
	if lic == nil {
		return m.Status(), ErrNotLicensed
	}
	toks, err := m.store.Tokens()
	if err != nil {
		return m.Status(), err
	}
	c := m.Client()
	ans, err := c.VerifyLicense(ctx, toks.License)
	result := VerifyResult(ans.Result)
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
	}
	if serr := m.recordVerify(lic.LicenseID, result); serr != nil {
		return m.Status(), serr
	}
	return m.Status(), err
}

// recordVerify stores a verification result on the license it was made
// for; a refresh or removal in the meantime is respected.
func (m *Manager) recordVerify(licenseID string, result VerifyResult) error {
	m.op.Lock()
	defer m.op.Unlock()
	cur := m.lic.Load()
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
	m.lic.Store(&upd)
	m.audit.record(EventVerified, fmt.Sprintf("license %s: %s", licenseID, result))
	return nil
}

// ---- Download new license ----

// Change is one license field that a download changed. Old and New are the
// field as the details screen shows it ("" when empty); lists are sorted
// and joined with ", ", dates are YYYY-MM-DD.
type Change struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
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
	m.op.Lock()
	defer m.op.Unlock()
	old := m.lic.Load()
	if old == nil {
		return m.Status(), nil, ErrNotLicensed
	}
	st, err := m.refreshLocked(ctx)
	if err != nil {
		return st, nil, err
	}
	cur := m.lic.Load()
	changes := changedFields(*old, *cur)
	detail := make([]string, 0, len(changes))
	for _, c := range changes {
		detail = append(detail, fmt.Sprintf("%s: %q → %q", c.Field, c.Old, c.New))
	}
	m.audit.record(EventDownloaded, fmt.Sprintf("license %s: %d changes %s", cur.LicenseID, len(changes), strings.Join(detail, "; ")))
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
	if err := m.admins.Check(sess); err != nil {
		return err
	}
	m.op.Lock()
	defer m.op.Unlock()
	if _, _, perr := m.store.Pending(); perr == nil { // the stored refresh token is spent: take the pair over first
		if _, err := m.refreshLocked(ctx); err != nil && !opts.Force {
			return err
		}
	}
	toks, err := m.store.Tokens()
	if err != nil {
		return err
	}
	lic := m.lic.Load()
	c := m.Client()
	rerr := c.Release(ctx, toks.Refresh)
	if rerr != nil && (!opts.Force || ctx.Err() != nil) {
		return rerr
	}
	if err := m.store.DeleteLicense(); err != nil {
		return err
	}
	if err := m.store.clearSwitch(); err != nil {
		m.log.Warn().Err(err).Msg("could not clear the pending switch")
	}
	m.lic.Store(nil)
	detail := "license removed by " + sess.User()
	if lic != nil {
		detail = fmt.Sprintf("license %s of server %s removed by %s", lic.LicenseID, lic.ServerID, sess.User())
	}
	if rerr != nil {
		detail += fmt.Sprintf("; forced, the authority was not told (%v)", rerr)
	}
	m.audit.record(EventRemoved, detail)
	m.log.Info().Bool("forced", rerr != nil).Msg("license removed")
	return nil
}

// ---- Switch model ----

// SwitchRequest is a request to change the license between perpetual and
// subscription. ApproveURI is the authority's page where someone of the
// organization approves it.
type SwitchRequest struct {
	ID          string            `json:"id"`
	LicenseID   string            `json:"licence_id"`
	From        wire.LicenseType  `json:"from"`
	To          wire.LicenseType  `json:"to"`
	Status      wire.SwitchStatus `json:"status"`
	ApproveURI  string            `json:"approve_uri"`
	RequestedAt time.Time         `json:"requested_at"`
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
func (m *Manager) RequestSwitch(ctx context.Context, sess *AdminSession, to wire.LicenseType) (SwitchRequest, error) {
	if err := m.admins.Check(sess); err != nil {
		return SwitchRequest{}, err
	}
	if to != wire.Perpetual && to != wire.Subscription {
		return SwitchRequest{}, fmt.Errorf("license type %q is neither perpetual nor subscription", to)
	}
	m.op.Lock() // the refresh token must not rotate under the request
	defer m.op.Unlock()
	lic := m.lic.Load()
	if lic == nil {
		return SwitchRequest{}, ErrNotLicensed
	}
	if p, ok := m.PendingSwitch(); ok {
		if p.To == to && p.Status == wire.SwitchPending {
			return p, nil
		}
		return p, ErrSwitchPending
	}
	if lic.Type == to {
		return SwitchRequest{}, fmt.Errorf("%w (%s)", ErrSwitchSameType, to)
	}
	if _, _, perr := m.store.Pending(); perr == nil { // the stored refresh token is spent: take the pair over first
		if _, err := m.refreshLocked(ctx); err != nil {
			return SwitchRequest{}, err
		}
	}
	toks, err := m.store.Tokens()
	if err != nil {
		return SwitchRequest{}, err
	}
	c := m.Client()
	ans, err := c.RequestSwitch(ctx, toks.Refresh, to)
	if err != nil {
		return SwitchRequest{}, err
	}
	req := SwitchRequest{ID: ans.RequestID, LicenseID: lic.LicenseID, From: lic.Type, To: to, Status: wire.SwitchPending,
		ApproveURI: ans.ApproveURI, RequestedAt: m.clock.Now()}
	if err := m.store.saveSwitch(req); err != nil {
		return SwitchRequest{}, err
	}
	m.audit.record(EventSwitchRequested, fmt.Sprintf("license %s: %s → %s requested by %s", lic.LicenseID, lic.Type, to, sess.User()))
	return req, nil
}

// CheckSwitch asks the authority about the pending switch request. While
// it is pending it returns it with a nil error. Once approved it refreshes
// the license token, which carries the new type (same Server ID, same
// license ID, same activation), and clears the request; if that refresh
// fails the request stays (Status approved) and the next CheckSwitch tries
// again. Denied clears the request and returns an error wrapping
// ErrAccessDenied; a request the authority no longer knows is cleared with
// an error wrapping ErrUnknownRequest. Without a pending request the error
// wraps ErrNoSwitchPending.
func (m *Manager) CheckSwitch(ctx context.Context) (SwitchRequest, Status, error) {
	p, ok := m.PendingSwitch()
	if !ok {
		return SwitchRequest{}, m.Status(), ErrNoSwitchPending
	}
	c := m.Client()
	status, err := c.SwitchStatus(ctx, p.ID)
	switch {
	case errors.Is(err, ErrUnknownRequest):
		m.finishSwitch(EventSwitchDenied, p, "the authority no longer knows the request")
		return p, m.Status(), err
	case err != nil:
		return p, m.Status(), err
	}
	p.Status = status
	switch status {
	case wire.SwitchDenied:
		m.finishSwitch(EventSwitchDenied, p, "denied")
		return p, m.Status(), fmt.Errorf("%w: the change to a %s license was denied at the authority", ErrAccessDenied, p.To)
	case wire.SwitchApproved:
		if err := m.store.saveSwitch(p); err != nil {
			return p, m.Status(), err
		}
		m.op.Lock()
		st, err := m.refreshLocked(ctx)
		m.op.Unlock()
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
	m.audit.record(event, fmt.Sprintf("license %s: %s → %s %s", p.LicenseID, p.From, p.To, how))
}
