package licensecore_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// realAuthority is the reference authority on a loopback port with one
// organization and one device ("POS-T1").
type realAuthority struct {
	srv *authority.Server
	ts  *httptest.Server
	// fault, when set, answers every request instead of the authority.
	fault atomic.Pointer[http.HandlerFunc]
}

func startAuthority(t *testing.T, lifetime time.Duration) *realAuthority {
	t.Helper()
	return startAuthorityAt(t, lifetime, nil)
}

// startAuthorityAt is startAuthority with the authority's clock (nil:
// time.Now).
func startAuthorityAt(t *testing.T, lifetime time.Duration, now func() time.Time) *realAuthority {
	t.Helper()
	ra := &realAuthority{}
	ra.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := ra.fault.Load(); f != nil {
			(*f)(w, r)
			return
		}
		ra.srv.Handler().ServeHTTP(w, r)
	}))
	ra.ts.Start()
	t.Cleanup(ra.ts.Close)
	srv, err := authority.New(authority.Options{PoolTrustOnFirstUse: true,
		DataDir: t.TempDir(), Issuer: ra.ts.URL, Logger: zerolog.Nop(),
		TokenLifetime: lifetime, PollInterval: time.Second, Now: now,
		Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Seed(authoritySeed(nil)); err != nil {
		t.Fatal(err)
	}
	ra.srv = srv
	return ra
}

// authoritySeed is startAuthority's data; mod, when set, changes the
// license of POS-T1 (seeding again with it changes the license in place).
func authoritySeed(mod func(*authority.LicenseSeed)) authority.Seed {
	renewal := time.Now().AddDate(0, 3, 0).UTC().Truncate(time.Second)
	lic := &authority.LicenseSeed{ID: "LIC-T1", Type: wire.Subscription, Customer: "Test Stores",
		Capacity: 3, RenewalDate: renewal, TransactionID: "TXN-T1"}
	if mod != nil {
		mod(lic)
	}
	return authority.Seed{Organizations: []authority.OrganizationSeed{{
		ID: "org1", Name: "Test Stores",
		Users: []authority.UserSeed{{Username: "alice", Password: "pw-alice", Role: authority.RoleVendor}}, // she also approves switches and issues license files
		Devices: []authority.DeviceSeed{{
			ServerID: "POS-T1", Name: "Till server", HubServerName: "hub-1", HubServerURL: "https://hub-1.example.com",
			Features: []string{"xms"}, License: lic,
		}},
	}}}
}

func (ra *realAuthority) setFault(f http.HandlerFunc) {
	if f == nil {
		ra.fault.Store(nil)
		return
	}
	ra.fault.Store(&f)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// person signs in on the authority's pages and answers a user code, as
// someone at a browser would (the browser itself is exercised by the
// authority's chromedp test).
type person struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newPerson(t *testing.T, base string) *person {
	jar, _ := cookiejar.New(nil)
	p := &person{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	p.send(http.MethodGet, "/login", nil, `id="login-form"`)
	p.send(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"pw-alice"}}, `id="org-form"`)
	p.send(http.MethodPost, "/org", url.Values{"org": {"org1"}}, `id="device-form"`)
	return p
}

func (p *person) send(method, path string, form url.Values, want string) {
	p.t.Helper()
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
		p.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := csrfField.FindSubmatch(page); m != nil {
		p.csrf = string(m[1])
	}
	if !strings.Contains(string(page), want) {
		p.t.Fatalf("%s %s: page lacks %s (status %d):\n%.400s", method, path, want, resp.StatusCode, page)
	}
}

func (p *person) answer(userCode, action string) {
	p.t.Helper()
	p.send(http.MethodPost, "/device", url.Values{"device": {"POS-T1"}, "user_code": {userCode}}, `id="confirm-form"`)
	want := `id="success"`
	if action == "deny" {
		want = `id="denied"`
	}
	p.send(http.MethodPost, "/device/confirm", url.Values{"device": {"POS-T1"}, "user_code": {userCode}, "action": {action}}, want)
}

func newManager(t *testing.T, base string, root ed25519.PublicKey, now func() time.Time) (*licensecore.Manager, *licensecore.Store) {
	t.Helper()
	dir := t.TempDir()
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: dir + "/store", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := licensecore.NewManager(licensecore.Options{
		Store: store, AuthorityURL: base, Now: now, Logger: zerolog.Nop(), Root: root,
		DeviceName: "Test PC", InstallCode: "BCDF-GHJK-LMNP-QRST",
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}

// acquire runs the whole device flow: the manager polls while the person
// authorizes the code.
func acquire(t *testing.T, m *licensecore.Manager, base, action string) (licensecore.Status, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	da, err := m.StartDeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(da.VerificationURIComplete, "user_code=") || da.Interval != time.Second {
		t.Fatalf("unexpected authorization %+v", da)
	}
	go newPerson(t, base).answer(strings.ToLower(da.UserCode), action)
	return m.CompleteDeviceAuth(ctx, da)
}

func TestManagerAcquireAndRefresh(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	m, store := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), nil)
	if st := m.Status(); st.State != licensecore.Unlicensed {
		t.Fatalf("fresh manager: %v", st.State)
	}
	st, err := acquire(t, m, ra.ts.URL, "approve")
	if err != nil {
		t.Fatal(err)
	}
	l := st.License
	if st.State != licensecore.Licensed || st.Token != licensecore.TokenOK || l.ServerID != "POS-T1" ||
		l.LicenseID != "LIC-T1" || l.HubServerName != "hub-1" || strings.Join(l.Features, ",") != "xms" ||
		l.Type != wire.Subscription || l.Capacity != 3 || l.TransactionID != "TXN-T1" || l.RenewalDate.IsZero() {
		t.Fatalf("license after acquisition: %+v (%v/%v)", l, st.State, st.Token)
	}
	if got := l.TokenExpiry.Sub(l.TokenIssuedAt); got != time.Hour {
		t.Fatalf("token lifetime %v", got)
	}
	if next := m.NextRefresh(); !next.Equal(l.TokenIssuedAt.Add(30 * time.Minute)) {
		t.Fatalf("next refresh %v, want half-life", next)
	}
	before, _ := store.Tokens()
	time.Sleep(1100 * time.Millisecond) // a later iat
	st2, err := m.RefreshNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after, _ := store.Tokens()
	if st2.License.TokenID == l.TokenID || after.License == before.License || after.Refresh == before.Refresh {
		t.Fatal("refresh did not store a new token and a rotated refresh token")
	}
	if !st2.License.AcquiredAt.Equal(l.AcquiredAt) || !st2.License.TokenExpiry.After(l.TokenExpiry) {
		t.Fatalf("refresh lost local facts or did not extend: %+v", st2.License)
	}
	if err := store.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
	log, _ := store.AuditLog()
	if len(log) != 2 || log[0].Kind != licensecore.EventAcquired || log[1].Kind != licensecore.EventRefreshed {
		t.Fatalf("audit log %+v", log)
	}
	// Key rotation: the next token is signed by a new kid, which the
	// manager fetches from the JWKS.
	if err := ra.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("refresh after key rotation: %v", err)
	}
}

func TestManagerDenied(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	m, _ := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), nil)
	st, err := acquire(t, m, ra.ts.URL, "deny")
	if !errors.Is(err, licensecore.ErrAccessDenied) || st.State != licensecore.Unlicensed {
		t.Fatalf("denied: %v, %v", err, st.State)
	}
}

func TestManagerRefreshFailures(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	m, store := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), nil)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.Tokens()
	lic, _ := store.License()
	cases := []struct {
		name  string
		fault http.HandlerFunc
		want  error
	}{
		{"500 with HTML", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			io.WriteString(w, "<html><body>Internal Server Error</body></html>")
		}, licensecore.ErrAuthorityBroken},
		{"200 with HTML", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>captive portal</html>")
		}, licensecore.ErrAuthorityBroken},
		{"token that is not a JWT", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"not.a.jwt","token_type":"Bearer","refresh_token":"x"}`)
		}, licensecore.ErrTokenInvalid},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, licensecore.ErrAuthorityDown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ra.setFault(tc.fault)
			defer ra.setFault(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := m.RefreshNow(ctx)
			if !errors.Is(err, tc.want) && !(tc.want == licensecore.ErrAuthorityDown && errors.Is(err, context.DeadlineExceeded)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			now, _ := store.Tokens()
			l, _ := store.License()
			if now != stored || l.TokenID != lic.TokenID {
				t.Fatal("a failed refresh changed the stored license")
			}
		})
	}
	t.Run("offline", func(t *testing.T) {
		down, _ := newManager(t, "http://127.0.0.1:1", exampleRoot(), nil)
		if err := down.CheckHealth(context.Background()); !errors.Is(err, licensecore.ErrAuthorityDown) {
			t.Fatalf("health of a closed port: %v", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		if err := ra.srv.RevokeLicense("LIC-T1"); err != nil {
			t.Fatal(err)
		}
		_, err := m.RefreshNow(context.Background())
		if !errors.Is(err, licensecore.ErrLicenseRevoked) {
			t.Fatalf("revoked license: %v", err)
		}
	})
}

// TestManagerClockRolledBack: a clock set back is a clock error until the
// authority's time says otherwise; a refresh is not refused for it (the
// authority judges by its own clock) and its answer clears the error.
func TestManagerClockRolledBack(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	m, store := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), now)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	before, _ := store.Tokens()
	offset.Store(int64(-2 * time.Hour))
	st := m.Status()
	if !st.ClockError || st.Severity() == 0 {
		t.Fatalf("clock set back two hours: clock error %v", st.ClockError)
	}
	if d := time.Since(st.At); d > time.Minute || d < -time.Minute {
		t.Fatalf("the trusted time followed the clock back: %v", st.At)
	}
	time.Sleep(1100 * time.Millisecond) // a later iat
	st, err := m.RefreshNow(context.Background())
	if err != nil {
		t.Fatalf("refresh with clock rolled back: %v", err)
	}
	if after, _ := store.Tokens(); after == before || st.ClockError {
		t.Fatalf("refresh did not store new tokens (%v) or clear the clock error (%v)", after == before, st.ClockError)
	}
	if d := st.ServerOffset - 2*time.Hour; !st.ServerOffsetKnown || d > 2*time.Second || d < -2*time.Second {
		t.Fatalf("server offset %v, want 2 h", st.ServerOffset)
	}
}

// A store that pays and reaches the authority now and then must never be
// locked out: lost answers, a key set that cannot be fetched once, and a
// PC clock that is off.

// shiftedClock is time.Now moved by a settable amount: a PC clock that is
// off, or the authority's clock run forward.
type shiftedClock struct{ d atomic.Int64 }

func (c *shiftedClock) now() time.Time      { return time.Now().Add(time.Duration(c.d.Load())) }
func (c *shiftedClock) set(d time.Duration) { c.d.Store(int64(d)) }
func (c *shiftedClock) add(d time.Duration) { c.d.Add(int64(d)) }

// faultyKeySet answers the signed key set with a 500 while fail says so
// (fail < 0: always; n > 0: the next n times) and counts the refresh
// grants; everything else reaches the authority.
type faultyKeySet struct {
	ra      *realAuthority
	fail    atomic.Int64
	refresh atomic.Int64
}

func (f *faultyKeySet) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == wire.PathSignedJWKS {
		if n := f.fail.Load(); n < 0 || (n > 0 && f.fail.CompareAndSwap(n, n-1)) {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
	}
	if r.URL.Path == "/token" && r.ParseForm() == nil && r.PostForm.Get("grant_type") == "refresh_token" {
		f.refresh.Add(1)
	}
	f.ra.srv.Handler().ServeHTTP(w, r)
}

func TestLockoutKeySetFailureKeepsPair(t *testing.T) {
	var clk shiftedClock // the authority's and the PC's
	ra := startAuthorityAt(t, 24*time.Hour, clk.now)
	f := &faultyKeySet{ra: ra}
	ra.setFault(f.serve)
	m, store := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), clk.now)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	before, _ := store.Tokens()
	mustRotate(t, ra)
	f.fail.Store(-1)
	if _, err := m.RefreshNow(context.Background()); !errors.Is(err, licensecore.ErrAuthorityBroken) {
		t.Fatalf("refresh while the key set cannot be fetched: %v", err)
	}
	pending, _, err := store.Pending()
	if err != nil || pending.License == "" || pending.Refresh == "" || pending.License == before.License {
		t.Fatalf("the received pair was not kept: %v", err)
	}
	if now, _ := store.Tokens(); now != before {
		t.Fatal("an unverified pair replaced the stored tokens")
	}
	// Past the authority's grace window the spent refresh token is worth
	// nothing: only the kept pair can save the installation.
	clk.add(11 * time.Minute)
	f.fail.Store(0)
	st, err := m.RefreshNow(context.Background())
	if err != nil || st.State != licensecore.Licensed || st.Token != licensecore.TokenOK {
		t.Fatalf("retry after the key set came back: %v, %v/%v", err, st.State, st.Token)
	}
	if after, _ := store.Tokens(); after != pending {
		t.Fatal("the retry did not store the kept pair")
	}
	if n := f.refresh.Load(); n != 1 {
		t.Fatalf("%d refresh grants, want 1: the retry spent a refresh token again", n)
	}
	if _, _, err := store.Pending(); !errors.Is(err, licensecore.ErrNotStored) {
		t.Fatalf("pending pair after it was verified: %v", err)
	}
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("the chain is not alive after the retry: %v", err)
	}
}

// TestLockoutPendingAfterRestart: the app stopped between storing a
// received pair and verifying it, on a PC whose clock is 3 h slow. After
// the restart (no offset to the authority's clock known yet), past the
// authority's grace window, the pair is taken over.
func TestLockoutPendingAfterRestart(t *testing.T) {
	var clk shiftedClock // the authority's
	ra := startAuthorityAt(t, 24*time.Hour, clk.now)
	pc := func() time.Time { return clk.now().Add(-3 * time.Hour) }
	dir := t.TempDir() + "/store"
	m, store := openManager(t, dir, ra, pc)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	var captured atomic.Pointer[licensecore.Tokens]
	ra.setFault(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		ra.srv.Handler().ServeHTTP(rec, r)
		var answer map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		var got licensecore.Tokens
		got.License, _ = answer[wire.TokenResponseLicenseField].(string)
		got.Refresh, _ = answer["refresh_token"].(string)
		captured.Store(&got)
		hangUp(w, r)
	})
	_, err := m.RefreshNow(context.Background())
	if err == nil || captured.Load() == nil || captured.Load().License == "" || captured.Load().Refresh == "" {
		t.Fatalf("the answer was not captured: %v", err)
	}
	got := *captured.Load()
	ra.setFault(nil)
	// As if the app had received the answer, stored it and stopped.
	if err := store.SavePending(got, licensecore.EventRefreshed); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	clk.add(11 * time.Minute)
	m, store = openManager(t, dir, ra, pc)
	st, err := m.RefreshNow(context.Background())
	if err != nil || st.State != licensecore.Licensed || st.Token != licensecore.TokenOK || st.ClockError {
		t.Fatalf("after the restart: %v, %v/%v, clock error %v", err, st.State, st.Token, st.ClockError)
	}
	if after, _ := store.Tokens(); after != got {
		t.Fatal("the kept pair was not taken over")
	}
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("the chain is not alive: %v", err)
	}
}

func TestLockoutKeySetRetried(t *testing.T) {
	ra := startAuthority(t, 24*time.Hour)
	f := &faultyKeySet{ra: ra}
	ra.setFault(f.serve)
	m, _ := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), nil)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	mustRotate(t, ra)
	f.fail.Store(1)
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("one failed key-set fetch after a rotation: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	mustRotate(t, ra)
	f.fail.Store(-1)
	start := time.Now()
	if _, err := m.RefreshNow(ctx); err == nil {
		t.Fatal("refresh succeeded without a key set")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the key-set retries ignored the context: %v", took)
	}
}

func mustRotate(t *testing.T, ra *realAuthority) {
	t.Helper()
	if err := ra.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
}

// TestLockoutLostAnswer drops the answer of a refresh after the authority
// processed it (just after a key rotation). The retry gets the same pair
// from the authority's grace window, though its key set cannot be fetched
// then; the pair is kept, and after the grace window the installation
// takes it over and stays licensed with one live chain.
func TestLockoutLostAnswer(t *testing.T) {
	var clk shiftedClock
	ra := startAuthorityAt(t, 24*time.Hour, clk.now)
	m, store := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), clk.now)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	before, _ := store.Tokens()
	mustRotate(t, ra)
	f := &faultyKeySet{ra: ra}
	var lost atomic.Pointer[string]
	ra.setFault(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		f.serve(rec, r)
		if r.URL.Path != "/token" || lost.Load() != nil {
			copyAnswer(w, rec)
			return
		}
		var answer map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		tok, _ := answer[wire.TokenResponseLicenseField].(string)
		lost.Store(&tok)
		hangUp(w, r)
	})
	if _, err := m.RefreshNow(context.Background()); !errors.Is(err, licensecore.ErrAuthorityDown) {
		t.Fatalf("refresh whose answer was lost: %v", err)
	}
	if now, _ := store.Tokens(); now != before || lost.Load() == nil || *lost.Load() == "" {
		t.Fatal("the lost answer changed the stored tokens, or the authority did not answer")
	}
	clk.add(time.Minute) // the retry comes a minute later, the key set is down
	f.fail.Store(-1)
	if _, err := m.RefreshNow(context.Background()); !errors.Is(err, licensecore.ErrAuthorityBroken) {
		t.Fatalf("retry while the key set cannot be fetched: %v", err)
	}
	if pending, _, err := store.Pending(); err != nil || pending.License != *lost.Load() {
		t.Fatalf("the retry did not get and keep the pair of the lost answer: %v", err)
	}
	clk.add(10 * time.Minute) // past the grace window
	f.fail.Store(0)
	st, err := m.RefreshNow(context.Background())
	if err != nil || st.State != licensecore.Licensed {
		t.Fatalf("retry after the grace window: %v, %v", err, st.State)
	}
	if after, _ := store.Tokens(); after.License != *lost.Load() {
		t.Fatal("the installation did not take over the pair of the lost answer")
	}
	if n := f.refresh.Load(); n != 2 {
		t.Fatalf("%d refresh grants, want 2 (the lost one and its retry)", n)
	}
	ra.setFault(nil)
	clk.add(time.Minute)
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("the chain is not alive after the retry: %v", err)
	}
}

// TestLockoutLostAnswerLongOutage: the answer of a refresh is lost and the
// shop's line stays down for hours, far past the authority's grace
// window. The installation's next refresh still succeeds, with one live
// chain.
func TestLockoutLostAnswerLongOutage(t *testing.T) {
	var clk shiftedClock
	ra := startAuthorityAt(t, 24*time.Hour, clk.now)
	m, _ := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), clk.now)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Bool
	ra.setFault(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" || dropped.Load() {
			ra.srv.Handler().ServeHTTP(w, r)
			return
		}
		ra.srv.Handler().ServeHTTP(httptest.NewRecorder(), r) // processed, then the line drops
		dropped.Store(true)
		hangUp(w, r)
	})
	if _, err := m.RefreshNow(context.Background()); !errors.Is(err, licensecore.ErrAuthorityDown) {
		t.Fatalf("refresh whose answer was lost: %v", err)
	}
	clk.add(5 * time.Hour)
	st, err := m.RefreshNow(context.Background())
	if err != nil || st.State != licensecore.Licensed || st.Token != licensecore.TokenOK {
		t.Fatalf("refresh five hours after a lost answer: %v, %v/%v", err, st.State, st.Token)
	}
	clk.add(time.Minute)
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("the chain is not alive after the recovery: %v", err)
	}
}

func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// TestLockoutClockSkew: a PC clock off by seconds, hours or most of a day
// neither blocks acquisition nor refresh, and the status is evaluated at
// the authority's time.
func TestLockoutClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew time.Duration
	}{{"45 s slow", -45 * time.Second}, {"3 h slow", -3 * time.Hour}, {"20 h fast", 20 * time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			ra := startAuthority(t, time.Hour)
			var pc shiftedClock
			pc.set(tc.skew)
			m, _ := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), pc.now)
			st, err := acquire(t, m, ra.ts.URL, "approve")
			if err != nil {
				t.Fatalf("acquisition: %v", err)
			}
			checkSkewed(t, "acquired", st, tc.skew)
			time.Sleep(1100 * time.Millisecond) // a later iat
			if st, err = m.RefreshNow(context.Background()); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			checkSkewed(t, "refreshed", st, tc.skew)
		})
	}
}

func checkSkewed(t *testing.T, when string, st licensecore.Status, skew time.Duration) {
	t.Helper()
	if st.State != licensecore.Licensed || st.Token != licensecore.TokenOK || st.ClockError {
		t.Fatalf("%s: %v/%v, clock error %v", when, st.State, st.Token, st.ClockError)
	}
	if d := st.ServerOffset + skew; !st.ServerOffsetKnown || d > 2*time.Second || d < -2*time.Second {
		t.Fatalf("%s: server offset %v (known %v), PC clock off by %v", when, st.ServerOffset, st.ServerOffsetKnown, skew)
	}
	if d := time.Since(st.At); d > 5*time.Second || d < -5*time.Second {
		t.Fatalf("%s: trusted time %v is %v away from the authority's", when, st.At, d)
	}
}

// TestLockoutClockAheadThenCorrected: the PC clock ran 20 days ahead while
// the app was stopped (the trusted time followed), then was set right. The
// next contact with the authority corrects the trusted time by itself.
func TestLockoutClockAheadThenCorrected(t *testing.T) {
	ra := startAuthority(t, 72*time.Hour)
	renewal := time.Now().AddDate(0, 0, 10).UTC().Truncate(time.Second)
	if err := ra.srv.Seed(authoritySeed(func(l *authority.LicenseSeed) { l.RenewalDate = renewal })); err != nil {
		t.Fatal(err)
	}
	var pc shiftedClock
	dir := t.TempDir() + "/store"
	m, store := openManager(t, dir, ra, pc.now)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	pc.set(20 * 24 * time.Hour)
	m.Status() // the trusted time follows the clock ahead, and is saved
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	pc.set(0) // set right, then the app starts again
	m, _ = openManager(t, dir, ra, pc.now)
	if st := m.Status(); !st.ClockError || st.State != licensecore.ExpiredRequiresRenewal {
		t.Fatalf("before the next contact: clock error %v, %v (the scenario did not arise)", st.ClockError, st.State)
	}
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("refresh with the clock set right: %v", err)
	}
	st := m.Status()
	if st.ClockError || st.State != licensecore.RequiresRenewal || st.Token != licensecore.TokenOK {
		t.Fatalf("after the next contact: clock error %v, %v/%v", st.ClockError, st.State, st.Token)
	}
	if d := time.Since(st.At); d > time.Minute || d < -time.Minute {
		t.Fatalf("trusted time %v is still %v away from now", st.At, -d)
	}
}

// openManager opens (or reopens) the store at dir and a manager of ra on
// it; the caller may close the store early, to start again.
func openManager(t *testing.T, dir string, ra *realAuthority, now func() time.Time) (*licensecore.Manager, *licensecore.Store) {
	t.Helper()
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: dir, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := licensecore.NewManager(licensecore.Options{
		Store: store, AuthorityURL: ra.ts.URL, Now: now, Logger: zerolog.Nop(), Root: ra.srv.RootPublicKey(),
		DeviceName: "Test PC", InstallCode: "BCDF-GHJK-LMNP-QRST",
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}

// TestNextRefreshClockCorrected: a PC clock 20 days ahead during a
// refresh, then corrected while the authority is out of reach: the next
// refresh is half a token lifetime after the last one by the corrected
// clock, not 20 days later (which let the token expire); with the PC clock
// 3 hours behind, it is still half a lifetime away by that clock, not
// 3 hours more.
func TestNextRefreshClockCorrected(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	var pc shiftedClock
	pc.set(20 * 24 * time.Hour)
	m, _ := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), pc.now)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	pc.set(0) // corrected; no contact since
	if in := m.NextRefresh().Sub(pc.now()); in < 25*time.Minute || in > 31*time.Minute {
		t.Fatalf("after the correction the next refresh is in %s, want about 30 min", in.Round(time.Second))
	}
	pc.set(-3 * time.Hour)
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if in := m.NextRefresh().Sub(pc.now()); in < 25*time.Minute || in > 31*time.Minute {
		t.Fatalf("3 h slow: next refresh in %s by the PC's clock, want about 30 min (not 3 h 30 min)", in.Round(time.Second))
	}
}
