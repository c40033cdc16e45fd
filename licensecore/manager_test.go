package licensecore_test

import (
	"context"
	"crypto/ed25519"
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
	srv, err := authority.New(authority.Options{
		DataDir: t.TempDir(), Issuer: ra.ts.URL, Logger: zerolog.Nop(),
		TokenLifetime: lifetime, PollInterval: time.Second,
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
		Users: []authority.UserSeed{{Username: "alice", Password: "pw-alice"}},
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

func TestManagerRefusesWhileClockRolledBack(t *testing.T) {
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
	if _, err := m.RefreshNow(context.Background()); !errors.Is(err, licensecore.ErrClockRollback) {
		t.Fatalf("refresh with clock rolled back: %v", err)
	}
	if after, _ := store.Tokens(); after != before {
		t.Fatal("tokens changed during a clock error")
	}
	offset.Store(0)
	if st := m.Status(); st.ClockError {
		t.Fatal("clock error did not clear once the clock was right")
	}
}
