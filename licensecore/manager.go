package licensecore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
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
	Now         func() time.Time
	Policy      Policy
	Logger      zerolog.Logger
	DeviceName  string
	InstallCode string
	// VerifyInterval: a subscription license is due for online
	// verification this long after the last one (default
	// DefaultVerifyInterval, see VerifyDue).
	VerifyInterval time.Duration
}

// Manager owns the license of this server: acquisition, refresh and status.
// Its I/O methods block and take a context; it starts no goroutines.
type Manager struct {
	store *Store
	clock *TrustedClock
	log   zerolog.Logger
	opts  Options

	mu       sync.Mutex // guards the fields below
	policy   Policy
	client   *Client
	verifier *Verifier
	lic      *License
	refresh  sync.Mutex // one refresh at a time
	admin    adminState
	pool     poolState // pool.go: one pool operation at a time
}

// NewManager loads the stored license and key set.
func NewManager(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("manager needs a store")
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.Policy == (Policy{}) {
		opts.Policy = DefaultPolicy()
	}
	if err := opts.Policy.Validate(); err != nil {
		return nil, err
	}
	clock, err := NewTrustedClock(opts.Store, opts.Now, opts.Policy.ClockTolerance)
	if err != nil {
		return nil, err
	}
	m := &Manager{store: opts.Store, clock: clock, log: opts.Logger, opts: opts, policy: opts.Policy}
	if err := m.SetAuthorityURL(opts.AuthorityURL); err != nil {
		return nil, err
	}
	l, err := opts.Store.License()
	switch {
	case err == nil:
		m.lic = &l
	case !errors.Is(err, ErrNotLicensed):
		return nil, err
	}
	return m, nil
}

// SetAuthorityURL points the manager at another authority. The pinned key
// set only applies to tokens whose issuer matches, so a changed URL means
// keys are fetched again on the next acquisition.
func (m *Manager) SetAuthorityURL(raw string) error {
	c, err := NewClient(ClientOptions{AuthorityURL: raw, ClientID: m.opts.ClientID, HTTPClient: m.opts.HTTPClient, Logger: m.log})
	if err != nil {
		return err
	}
	v, err := NewVerifier(VerifierOptions{Issuer: c.Issuer(), Audience: m.opts.Audience, Leeway: m.policy.Leeway, Now: m.clock.Now})
	if err != nil {
		return err
	}
	if set, err := m.store.JWKS(); err == nil {
		_ = v.SetKeySet(set) // a bad pinned set is replaced on next fetch
	}
	m.mu.Lock()
	m.client, m.verifier = c, v
	m.mu.Unlock()
	return nil
}

// AuthorityURL is the configured authority's address.
func (m *Manager) AuthorityURL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.client.BaseURL()
}

// Policy returns the thresholds in force.
func (m *Manager) Policy() Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.policy
}

// SetPolicy changes the thresholds.
func (m *Manager) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	m.policy = p
	m.mu.Unlock()
	return nil
}

// DeviceIdentity is this PC's name and install code, shown in the wizard so
// the person picks the right device on the authority's page.
func (m *Manager) DeviceIdentity() (name, installCode string) {
	return m.opts.DeviceName, m.opts.InstallCode
}

// Clock exposes the trusted clock (for notifications and the refresher).
func (m *Manager) Clock() *TrustedClock { return m.clock }

func (m *Manager) parts() (*Client, *Verifier, Policy) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.client, m.verifier, m.policy
}

// Status evaluates the stored license at the trusted time.
func (m *Manager) Status() Status {
	m.mu.Lock()
	lic, p := m.lic, m.policy
	m.mu.Unlock()
	now := m.clock.Now()
	st := Evaluate(lic, now, p)
	st.ClockError, _ = m.clock.Rollback()
	if err := m.clock.Save(); err != nil {
		m.log.Warn().Err(err).Msg("could not save the trusted clock")
	}
	return st
}

// StartDeviceAuth requests a user code from the authority.
func (m *Manager) StartDeviceAuth(ctx context.Context) (*DeviceAuthorization, error) {
	c, _, _ := m.parts()
	return c.StartDeviceAuth(ctx, m.opts.DeviceName, m.opts.InstallCode)
}

// CompleteDeviceAuth waits for the person to authorize the code, then
// verifies and stores the license.
func (m *Manager) CompleteDeviceAuth(ctx context.Context, da *DeviceAuthorization) (Status, error) {
	c, _, _ := m.parts()
	toks, err := c.PollDeviceToken(ctx, da)
	if err != nil {
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
	m.refresh.Lock()
	defer m.refresh.Unlock()
	return m.refreshLocked(ctx)
}

// refreshLocked is RefreshNow for callers that hold m.refresh.
func (m *Manager) refreshLocked(ctx context.Context) (Status, error) {
	toks, err := m.store.Tokens()
	if err != nil {
		return m.Status(), err
	}
	if toks.Refresh == "" {
		return m.Status(), fmt.Errorf("%w: no refresh token stored", ErrNotLicensed)
	}
	if rb, _ := m.clock.Rollback(); rb {
		return m.Status(), ErrClockRollback
	}
	c, _, _ := m.parts()
	fresh, err := c.Refresh(ctx, toks.Refresh)
	if err != nil {
		m.noteRefreshFailure(err)
		return m.Status(), err
	}
	if err := m.apply(ctx, fresh, EventRefreshed); err != nil {
		return m.Status(), err
	}
	return m.Status(), nil
}

func (m *Manager) noteRefreshFailure(err error) {
	if errors.Is(err, ErrLicenseRevoked) || errors.Is(err, ErrLicenseExpired) || errors.Is(err, ErrRefreshRejected) {
		m.audit(EventRejected, err.Error())
	}
}

// apply verifies a token answer and stores it. The key set is fetched when
// the token's kid is unknown (first acquisition or a rotation).
func (m *Manager) apply(ctx context.Context, toks Tokens, event string) error {
	if rb, _ := m.clock.Rollback(); rb {
		return ErrClockRollback
	}
	c, v, _ := m.parts()
	claims, err := v.Verify(toks.License)
	var fetched *JWKS
	if errors.Is(err, ErrUnknownKey) {
		set, ferr := c.FetchJWKS(ctx)
		if ferr != nil {
			return ferr
		}
		if err := v.SetKeySet(set); err != nil {
			return err
		}
		fetched = &set
		claims, err = v.Verify(toks.License)
	}
	if err != nil {
		m.audit(EventRejected, err.Error())
		return err
	}
	m.mu.Lock()
	prev := m.lic
	m.mu.Unlock()
	if event == EventRefreshed && prev != nil && prev.ServerID != claims.Subject {
		return fmt.Errorf("%w: the new token is for server %q, this one is %q", ErrTokenInvalid, claims.Subject, prev.ServerID)
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
	if err := m.store.SaveLicense(lic, toks, fetched); err != nil {
		return err
	}
	m.mu.Lock()
	m.lic = &lic
	m.mu.Unlock()
	detail := fmt.Sprintf("server %s, license %s, token %s until %s", lic.ServerID, lic.LicenseID, lic.TokenID, lic.TokenExpiry.Format(time.RFC3339))
	m.audit(event, detail)
	m.log.Info().Str("event", event).Str("server_id", lic.ServerID).Time("token_expiry", lic.TokenExpiry).Msg("license token stored")
	return nil
}

// CheckHealth is the connectivity check the refresher runs first.
func (m *Manager) CheckHealth(ctx context.Context) error {
	c, _, _ := m.parts()
	return c.Health(ctx)
}

// NextRefresh is when the background refresher should renew the token:
// at Policy.RefreshFraction of its lifetime. Zero when unlicensed.
func (m *Manager) NextRefresh() time.Time {
	m.mu.Lock()
	lic, p := m.lic, m.policy
	m.mu.Unlock()
	if lic == nil || lic.TokenExpiry.IsZero() {
		return time.Time{}
	}
	life := lic.TokenLifetime()
	return lic.TokenIssuedAt.Add(time.Duration(float64(life) * p.RefreshFraction))
}
