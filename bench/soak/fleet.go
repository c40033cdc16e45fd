package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// simClock is the one simulated time of the run: the authority reads it,
// every installation reads it plus its own skew.
type simClock struct{ ns atomic.Int64 }

func (c *simClock) Now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *simClock) Set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func newClock(t time.Time) *simClock { c := &simClock{}; c.Set(t); return c }

// install is one simulated POS server PC: its store, trusted clock and
// Manager, the refresher's back-off, and what the checks track.
type install struct {
	idx                   int
	serverID, installCode string
	store                 *licensecore.Store
	clock                 *licensecore.TrustedClock
	m                     *licensecore.Manager
	rng                   *rand.Rand

	skew      atomic.Int64 // PC clock minus true time, ns
	baseSkew  time.Duration
	jumpUntil time.Time // end of a +20 days excursion (true time); zero: none

	backoff      time.Duration
	pastDue      time.Duration // spacing of refreshes whose point stays past
	failingSince time.Time     // when the current run of failures began
	retryAt      time.Time     // true time of the next retry; zero: not backing off
	lic          *licensecore.License
	lastErr      string

	// Set by the transport during an attempt.
	tokenFault    faultKind
	tokenCalled   bool
	lastAttempt   time.Time
	lastDelivered time.Time
	issued        map[string]string // spent refresh token → the one issued for it
	spentAt       map[string]time.Time
	withdrawn     []string // pairs a retry after the grace window replaced
	head          string   // the newest refresh token the server issued
	lostHead      string   // the newest one counted as lost
	chainRevoked  bool

	lostSince []string // why received pairs were lost since the last success
	refused   string   // the first pair the client itself refused since then
	badSince  time.Time
	locked    bool
	dead      bool // refused for good by the authority: no more attempts
}

func (in *install) pcNow(c *simClock) time.Time {
	return c.Now().Add(time.Duration(in.skew.Load()))
}

// startAuthority runs the real authority on a loopback port with one
// organization, one user and a device (own install code, own license) per
// installation.
func (s *sim) startAuthority(dir string) error {
	var h atomic.Pointer[http.Handler] // built once: Handler makes a new mux per call
	s.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The answer's Date is the authority's (simulated) time: clients
		// correct their DPoP proofs by it.
		w.Header().Set("Date", s.clock.Now().Format(http.TimeFormat))
		(*h.Load()).ServeHTTP(w, r)
	}))
	a, err := authority.New(authority.Options{
		DataDir: filepath.Join(dir, "authority"), Issuer: s.ts.URL, Logger: zerolog.Nop(), Now: s.clock.Now,
		TokenLifetime: s.cfg.lifetime, RefreshGrace: s.cfg.grace, PollInterval: time.Second,
		Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1},
		// The whole fleet reaches the authority from one loopback address,
		// as a chain's stores behind one NAT would.
		DeviceAuthIPRate: authority.RateLimit{Max: 100000, Window: time.Minute}, DeviceAuthPerIP: 100000,
	})
	if err != nil {
		return err
	}
	handler := a.Handler()
	h.Store(&handler)
	s.auth = a
	renewal := s.start.Add(time.Duration(s.cfg.days+90) * 24 * time.Hour)
	org := authority.OrganizationSeed{ID: "fleet", Name: "Soak Stores",
		Users: []authority.UserSeed{{Username: "ops", Password: "pw-ops"}}}
	for _, in := range s.fleet {
		org.Devices = append(org.Devices, authority.DeviceSeed{
			ServerID: in.serverID, Name: "Store " + in.serverID, InstallCode: in.installCode,
			HubServerName: "hub-1", HubServerURL: "https://hub-1.example.com", Features: []string{"xms"},
			License: &authority.LicenseSeed{ID: "LIC-" + in.serverID, Type: wire.Subscription, Customer: "Soak Stores",
				Capacity: 4, RenewalDate: renewal, TransactionID: "TXN-" + in.serverID},
		})
	}
	return a.Seed(authority.Seed{Organizations: []authority.OrganizationSeed{org}})
}

// openInstall makes installation i: its Badger store, trusted clock over
// its skewed PC clock, and Manager whose HTTP client injects faults.
func (s *sim) openInstall(dir string, i int, base http.RoundTripper) (*install, error) {
	in := &install{idx: i, serverID: fmt.Sprintf("POS-%04d", i+1),
		installCode: licensecore.InstallCode(fmt.Sprintf("soak-machine-%d-%d", s.cfg.seed, i)),
		rng:         rand.New(rand.NewPCG(s.cfg.seed, uint64(i))),
		issued:      map[string]string{}, spentAt: map[string]time.Time{}}
	st, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(dir, fmt.Sprintf("pc%04d", i), "store"), Logger: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	in.store = st
	pcClock := func() time.Time { return in.pcNow(s.clock) }
	in.clock, err = licensecore.NewTrustedClock(st, pcClock, s.policy.ClockTolerance)
	if err != nil {
		return nil, err
	}
	return in, nil
}

func (s *sim) newManager(in *install, base http.RoundTripper) error {
	var err error
	in.m, err = licensecore.NewManager(licensecore.Options{
		Store: in.store, AuthorityURL: s.ts.URL, Root: s.auth.RootPublicKey(),
		Now: func() time.Time { return in.pcNow(s.clock) }, Clock: in.clock, Policy: s.policy,
		Logger: zerolog.Nop(), DeviceName: "Back office " + in.serverID, InstallCode: in.installCode,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &faultTransport{sim: s, in: in, base: base}},
	})
	return err
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// person signs in on the authority's pages and approves user codes, as
// someone at a browser would (the authority has no API to approve a code).
type person struct {
	base string
	c    *http.Client
	csrf string
}

func newPerson(base string) (*person, error) {
	jar, _ := cookiejar.New(nil)
	p := &person{base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	if err := p.send(http.MethodGet, "/login", nil, `id="login-form"`); err != nil {
		return nil, err
	}
	if err := p.send(http.MethodPost, "/login", url.Values{"username": {"ops"}, "password": {"pw-ops"}}, `id="org-form"`); err != nil {
		return nil, err
	}
	return p, p.send(http.MethodPost, "/org", url.Values{"org": {"fleet"}}, `id="device-form"`)
}

func (p *person) send(method, path string, form url.Values, want string) error {
	var body io.Reader
	if form != nil {
		form.Set("csrf_token", p.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, p.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.c.Do(req)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := csrfField.FindSubmatch(page); m != nil {
		p.csrf = string(m[1])
	}
	if !strings.Contains(string(page), want) {
		return fmt.Errorf("%s %s: page lacks %s (status %d): %.300s", method, path, want, resp.StatusCode, page)
	}
	return nil
}

func (p *person) approve(serverID, userCode string) error {
	form := url.Values{"device": {serverID}, "user_code": {userCode}}
	if err := p.send(http.MethodPost, "/device", form, `id="confirm-form"`); err != nil {
		return err
	}
	form = url.Values{"device": {serverID}, "user_code": {userCode}, "action": {"approve"}}
	return p.send(http.MethodPost, "/device/confirm", form, `id="success"`)
}

// acquire licenses the whole fleet by the device flow with the clock
// standing still and no faults: each PC asks for a code, the person
// approves it on the pages, then every PC collects its pair (in parallel:
// x/oauth2 waits one poll interval before its first poll).
func (s *sim) acquire() error {
	p, err := newPerson(s.ts.URL)
	if err != nil {
		return err
	}
	ctx := context.Background()
	das := make([]*licensecore.DeviceAuthorization, len(s.fleet))
	for i, in := range s.fleet {
		if das[i], err = in.m.StartDeviceAuth(ctx); err != nil {
			return fmt.Errorf("%s: %w", in.serverID, err)
		}
		if err := p.approve(in.serverID, das[i].UserCode); err != nil {
			return fmt.Errorf("%s: %w", in.serverID, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(s.fleet))
	for i, in := range s.fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := in.m.CompleteDeviceAuth(ctx, das[i])
			in.lic, errs[i] = st.License, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: acquisition: %w", s.fleet[i].serverID, err)
		}
	}
	return nil
}
