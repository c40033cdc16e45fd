package licensecore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/wire"
)

// Options configure a Manager. Nothing here is global: the app builds one
// Manager and passes it to the screens.
type Options struct {
	Store        *Store
	AuthorityURL string
	ClientID     string
	Audience     string // default DefaultAudience
	HTTPClient   *http.Client
	// Now is the system clock (default time.Now); the Manager wraps it in a
	// TrustedClock.
	Now func() time.Time
	// Clock is the trusted clock over Now; NewManager makes one when nil.
	Clock *TrustedClock
	// Admins guards protected changes; NewManager makes one when nil.
	Admins      *Admins
	Policy      Policy
	Logger      zerolog.Logger
	DeviceName  string
	InstallCode string
	// VerifyInterval: a subscription license is due for online
	// verification this long after the last one (default
	// DefaultVerifyInterval, see VerifyDue).
	VerifyInterval time.Duration
	// Root is the authority's root public key from the installer's
	// configuration. It is pinned in the store at the first start; later a
	// different Root is refused (ErrRootMismatch) until an administrator
	// re-pins it with ChangeAuthority. Nil: use the pinned one.
	Root ed25519.PublicKey
}

// Manager is the license aggregate of this server: acquisition, refresh,
// status, online verification, download, removal, the perpetual /
// subscription switch and offline activation. Its I/O methods block and
// take a context; it starts no goroutines.
//
// State is read without locks (atomic pointers), so Status never waits for
// a refresh on the network; op serialises every change of the license and
// its tokens, so the refresh token never rotates under another operation.
type Manager struct {
	store  *Store
	clock  *TrustedClock
	admins *Admins
	audit  auditor
	log    zerolog.Logger
	opts   Options

	op     sync.Mutex // one license change at a time
	lic    atomic.Pointer[License]
	policy atomic.Pointer[Policy]
	ep     atomic.Pointer[endpoint]
}

// endpoint is the authority in force: its client and the verifiers of its
// tokens. ChangeAuthority swaps them at once.
type endpoint struct {
	client   *Client
	verifier *Verifier // at the trusted time: stored tokens
	// fresh checks tokens just received at the authority's time (the PC's
	// clock plus Client.ServerOffset), so a PC clock that is off never
	// refuses a token the authority has just issued.
	fresh *Verifier
}

// NewManager loads the stored license and key set. Without Options.Clock
// it makes the trusted clock; without Options.Admins it makes an
// administrator role of its own (reach it with Admins).
func NewManager(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("manager needs a store")
	}
	if opts.Audience == "" {
		opts.Audience = wire.DefaultAudience
	}
	if opts.Policy == (Policy{}) {
		opts.Policy = DefaultPolicy()
	}
	if err := opts.Policy.Validate(); err != nil {
		return nil, err
	}
	clock := opts.Clock
	if clock == nil {
		var err error
		if clock, err = NewTrustedClock(opts.Store, opts.Now, opts.Policy.ClockTolerance); err != nil {
			return nil, err
		}
	}
	admins := opts.Admins
	if admins == nil {
		admins = NewAdmins(opts.Store, clock, opts.Logger)
	}
	m := &Manager{store: opts.Store, clock: clock, admins: admins, log: opts.Logger, opts: opts,
		audit: auditor{store: opts.Store, clock: clock, log: opts.Logger}}
	p := opts.Policy
	m.policy.Store(&p)
	root, err := pinRoot(opts.Store, opts.Root)
	if err != nil {
		return nil, err
	}
	ep, err := newEndpoint(m, opts.AuthorityURL, root)
	if err != nil {
		return nil, err
	}
	m.ep.Store(ep)
	l, err := opts.Store.License()
	switch {
	case err == nil:
		m.lic.Store(&l)
	case !errors.Is(err, ErrNotLicensed):
		return nil, err
	}
	return m, nil
}

// pinRoot returns the root this store trusts: the pinned one, or the
// configured one on the first start (then pinned). A configured root that
// differs from the pinned one is refused: only ChangeAuthority re-pins.
func pinRoot(store *Store, configured ed25519.PublicKey) (ed25519.PublicKey, error) {
	pinned, err := store.Root()
	switch {
	case err == nil && (configured == nil || configured.Equal(pinned)):
		return pinned, nil
	case err == nil:
		return nil, fmt.Errorf("%w: pinned %s, configured %s", ErrRootMismatch, wire.Fingerprint(pinned), wire.Fingerprint(configured))
	case !errors.Is(err, ErrNotStored):
		return nil, err
	case configured == nil:
		return nil, nil // nothing to trust yet: every verification fails with ErrNoRoot
	}
	return configured, store.PinRoot(configured)
}

// newEndpoint builds the client and verifier of the authority at raw, with
// the key set the store holds for it when that set chains to root. Key
// sets the client fetches later reach the verifier and the store through
// OnKeySet.
func newEndpoint(m *Manager, raw string, root ed25519.PublicKey) (*endpoint, error) {
	key, err := m.store.InstallKey()
	if err != nil {
		return nil, err
	}
	ep := &endpoint{}
	onKeySet := func(jws string, set wire.JWKS) {
		if err := ep.setKeySet(set); err != nil {
			m.log.Warn().Err(err).Msg("a root-signed key set has unusable keys")
			return
		}
		if err := m.store.SaveKeySet(jws); err != nil {
			m.log.Warn().Err(err).Msg("could not store the key set")
		}
	}
	sys := m.sysNow
	ep.client, err = NewClient(ClientOptions{AuthorityURL: raw, ClientID: m.opts.ClientID, HTTPClient: m.opts.HTTPClient, Logger: m.log,
		Root: root, InstallKey: key, Now: sys, OnKeySet: onKeySet})
	if err != nil {
		return nil, err
	}
	vo := VerifierOptions{Issuer: ep.client.Issuer(), Audience: m.opts.Audience, Leeway: m.Policy().Leeway, Now: m.clock.Now}
	if ep.verifier, err = NewVerifier(vo); err != nil {
		return nil, err
	}
	vo.Now = func() time.Time {
		off, _ := ep.client.ServerOffset()
		return sys().Add(off)
	}
	if ep.fresh, err = NewVerifier(vo); err != nil {
		return nil, err
	}
	if jws, err := m.store.KeySet(); err == nil && root != nil {
		if set, err := ep.client.anchor.accept(jws, ep.client.Issuer()); err == nil {
			_ = ep.setKeySet(set) // validated by accept
		}
	}
	return ep, nil
}

// setKeySet gives both verifiers the keys of set.
func (ep *endpoint) setKeySet(set wire.JWKS) error {
	if err := ep.verifier.SetKeySet(set); err != nil {
		return err
	}
	return ep.fresh.SetKeySet(set)
}

// ChangeAuthority points this server at another authority address and,
// with repin, another root key (protected: sess must be a live
// administrator session, else ErrAdminRequired and nothing changes). The
// address must use https unless it is this PC. A root other than the
// pinned one needs repin (the screens show both fingerprints first), else
// ErrRootMismatch. Audited.
func (m *Manager) ChangeAuthority(sess *AdminSession, rawURL string, root ed25519.PublicKey, repin bool) error {
	if err := m.admins.Check(sess); err != nil {
		return err
	}
	m.op.Lock()
	defer m.op.Unlock()
	old, oldURL := m.Root(), m.AuthorityURL()
	if root == nil {
		root = old
	}
	if old != nil && !root.Equal(old) && !repin {
		return fmt.Errorf("%w: pinned %s, new %s", ErrRootMismatch, wire.Fingerprint(old), wire.Fingerprint(root))
	}
	if root == nil {
		return ErrNoRoot
	}
	ep, err := newEndpoint(m, rawURL, root)
	if err != nil {
		return err
	}
	if !root.Equal(old) {
		if err := m.store.PinRoot(root); err != nil {
			return err
		}
		from := "none"
		if old != nil {
			from = wire.Fingerprint(old)
		}
		m.audit.record(EventRootRepinned, fmt.Sprintf("root %s → %s by %s", from, wire.Fingerprint(root), sess.User()))
	}
	m.ep.Store(ep)
	m.audit.record(EventAuthorityChanged, fmt.Sprintf("%s → %s by %s", oldURL, ep.client.BaseURL(), sess.User()))
	return nil
}

// Root is the pinned root key of the authority (Settings shows its
// wire.Fingerprint); nil when none is configured yet.
func (m *Manager) Root() ed25519.PublicKey {
	if a := m.Client().anchor; a != nil {
		return a.root
	}
	return nil
}

// AuthorityURL is the configured authority's address.
func (m *Manager) AuthorityURL() string { return m.Client().BaseURL() }

// Client is the client of the authority in force (Pool uses it too).
func (m *Manager) Client() *Client { return m.ep.Load().client }

// Policy returns the thresholds in force.
func (m *Manager) Policy() Policy { return *m.policy.Load() }

// SetPolicy changes the thresholds.
func (m *Manager) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	m.policy.Store(&p)
	return nil
}

// DeviceIdentity is this PC's name and install code, shown in the wizard so
// the person picks the right device on the authority's page.
func (m *Manager) DeviceIdentity() (name, installCode string) {
	return m.opts.DeviceName, m.opts.InstallCode
}

// Admins is the administrator role that guards this manager's changes.
func (m *Manager) Admins() *Admins { return m.admins }

// Status evaluates the stored license at the trusted time, under the
// policy in force.
func (m *Manager) Status() Status {
	st := Evaluate(m.lic.Load(), m.clock.Now(), m.Policy())
	st.ClockError, _ = m.clock.Rollback()
	st.ServerOffset, st.ServerOffsetKnown = m.Client().ServerOffset()
	if err := m.clock.Save(); err != nil {
		m.log.Warn().Err(err).Msg("could not save the trusted clock")
	}
	return st
}

// StartDeviceAuth requests a user code from the authority.
func (m *Manager) StartDeviceAuth(ctx context.Context) (*DeviceAuthorization, error) {
	return m.Client().StartDeviceAuth(ctx, m.opts.DeviceName, m.opts.InstallCode)
}

// CompleteDeviceAuth waits for the person to authorize the code, then
// verifies and stores the license.
func (m *Manager) CompleteDeviceAuth(ctx context.Context, da *DeviceAuthorization) (Status, error) {
	toks, err := m.Client().PollDeviceToken(ctx, da)
	if err != nil {
		return m.Status(), err
	}
	if err := m.store.SavePending(toks, EventAcquired); err != nil {
		return m.Status(), err
	}
	if err := m.apply(ctx, toks, EventAcquired); err != nil {
		return m.Status(), err
	}
	return m.Status(), nil
}

// RefreshNow renews the license token. Offline is reported as
// ErrAuthorityDown and leaves everything as it was.
func (m *Manager) RefreshNow(ctx context.Context) (Status, error) {
	m.op.Lock()
	defer m.op.Unlock()
	return m.refreshLocked(ctx)
}

// refreshLocked is RefreshNow for callers that hold m.op. A pair received
// before but not verified yet (see apply) is verified first, at the
// authority's time, without spending a refresh token again; only a pair
// that is itself refused (not one whose check could not be made) gives
// way to a new refresh: with its own refresh token when only its times
// were refused (its signature held, so the authority issued it and spent
// the stored one), else with the stored one.
func (m *Manager) refreshLocked(ctx context.Context) (Status, error) {
	toks, err := m.store.Tokens()
	if err != nil && !errors.Is(err, ErrNotLicensed) {
		return m.Status(), err
	}
	c := m.Client()
	if pending, event, perr := m.store.Pending(); perr == nil {
		if _, known := c.ServerOffset(); !known {
			_ = c.Health(ctx) // its Date header: the authority's time
		}
		err = m.apply(ctx, pending, event)
		if err == nil || !errors.Is(err, ErrTokenInvalid) {
			return m.Status(), err
		}
		m.log.Warn().Err(err).Msg("the pending license token was refused; refreshing again")
		if errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrTokenNotYet) {
			toks.Refresh = pending.Refresh
		}
	} else if !errors.Is(perr, ErrNotStored) {
		return m.Status(), perr
	}
	if toks.Refresh == "" {
		return m.Status(), fmt.Errorf("%w: no refresh token stored", ErrNotLicensed)
	}
	// A clock error does not stop the refresh: the authority judges the
	// license by its own clock, and its answer corrects the trusted clock.
	fresh, err := c.Refresh(ctx, toks.Refresh)
	if err != nil {
		if errors.Is(err, ErrLicenseRevoked) || errors.Is(err, ErrLicenseExpired) || errors.Is(err, ErrRefreshRejected) {
			m.audit.record(EventRejected, err.Error())
		}
		return m.Status(), err
	}
	if err := m.store.SavePending(fresh, EventRefreshed); err != nil {
		return m.Status(), err
	}
	if err := m.apply(ctx, fresh, EventRefreshed); err != nil {
		return m.Status(), err
	}
	return m.Status(), nil
}

// freshAnswer bounds how far a just received token's iat may lie from the
// authority's time for its answer to correct the trusted clock: the
// authority answers a retry within its grace window with the pair it
// issued then.
const freshAnswer = 15 * time.Minute

// apply verifies a token answer at the authority's time and stores it as
// the license, which clears the pending pair. Its callers store an answer
// from the authority as the pending pair first (Store.SavePending: the
// authority has spent the refresh token that bought it), so a failed
// verification leaves it for the next refresh. The key set is fetched
// when the token's kid is unknown (first acquisition or a rotation).
func (m *Manager) apply(ctx context.Context, toks Tokens, event string) error {
	ep := m.ep.Load()
	c, v := ep.client, ep.fresh
	// The token must name this installation's key (cnf.jkt): one issued to
	// another key is not ours to store.
	claims, err := v.VerifyHeld(toks.License, c.jkt)
	if errors.Is(err, wire.ErrUnknownKey) {
		if ferr := c.fetchKeySetRetry(ctx); ferr != nil {
			return ferr
		}
		claims, err = v.VerifyHeld(toks.License, c.jkt)
	}
	if err != nil {
		m.audit.record(EventRejected, err.Error())
		return err
	}
	prev := m.lic.Load()
	if event == EventRefreshed && prev != nil && prev.ServerID != claims.Subject {
		return fmt.Errorf("%w: the new token is for server %q, this one is %q", ErrTokenInvalid, claims.Subject, prev.ServerID)
	}
	// The verified iat vouches for the answer's time, when it is close to
	// it and not older than the token held (a replayed answer is): then
	// the authority's clock corrects the trusted one.
	if off, ok := c.ServerOffset(); ok && (prev == nil || !claims.IssuedAt.Before(prev.TokenIssuedAt)) {
		server := v.opts.Now()
		if d := server.Sub(claims.IssuedAt.Time); d < freshAnswer && d > -freshAnswer {
			if err := m.clock.Correct(server); err != nil {
				return err
			}
			m.log.Debug().Dur("server_offset", off).Msg("trusted clock set by the authority's time")
		}
	}
	if err := m.clock.Observe(claims.IssuedAt.Time); err != nil {
		return err
	}
	now := m.clock.Now()
	var lic License
	if prev != nil && event == EventRefreshed {
		lic = prev.WithToken(claims)
	} else {
		lic = LicenseFromClaims(claims)
		lic.AcquiredAt = now
	}
	lic.LastRefresh = now
	lic.OfflineSince, lic.Offline = now, false // contact with the authority
	if err := m.store.SaveLicense(lic, toks, ""); err != nil {
		return err
	}
	m.lic.Store(&lic)
	detail := fmt.Sprintf("server %s, license %s, token %s until %s", lic.ServerID, lic.LicenseID, lic.TokenID, lic.TokenExpiry.Format(time.RFC3339))
	m.audit.record(event, detail)
	m.log.Info().Str("event", event).Str("server_id", lic.ServerID).Time("token_expiry", lic.TokenExpiry).Msg("license token stored")
	return nil
}

// CheckHealth is the connectivity check the refresher runs first.
func (m *Manager) CheckHealth(ctx context.Context) error {
	return m.Client().Health(ctx)
}

// NextRefresh is when, by this PC's clock, the background refresher should
// renew the token: at Policy.RefreshFraction of its lifetime, counted from
// the token's iat (the authority's time). A PC clock behind the authority's
// (by the offset the last answer showed) brings it forward; a PC clock
// ahead does not postpone it, since the offset may be stale once the clock
// is corrected: on a PC far ahead the point is then already past after a
// refresh, and the refresher spaces such refreshes out. Zero when
// unlicensed.
func (m *Manager) NextRefresh() time.Time {
	lic, p := m.lic.Load(), m.Policy()
	if lic == nil || lic.TokenExpiry.IsZero() {
		return time.Time{}
	}
	due := lic.TokenIssuedAt.Add(time.Duration(float64(lic.TokenLifetime()) * p.RefreshFraction))
	if off, ok := m.Client().ServerOffset(); ok && off > 0 {
		due = due.Add(-off)
	}
	return due
}

// sysNow is the system clock (Options.Now).
func (m *Manager) sysNow() time.Time {
	if m.opts.Now != nil {
		return m.opts.Now()
	}
	return time.Now()
}
