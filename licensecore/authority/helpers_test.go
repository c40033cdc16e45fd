package authority_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// t0 is the fixed start of every test clock.
var t0 = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Test data: alice belongs to two organizations.
const (
	alice, alicePW = "alice", "correct horse battery staple"
	orgAcme        = "acme"
	orgBeta        = "beta"
	devMain        = "SRV-MAIN"    // subscription, renews in a year, xms
	devPerpetual   = "SRV-PERP"    // perpetual, no renewal date
	devExpired     = "SRV-EXPIRED" // renewal date has passed
	devRevoked     = "SRV-REVOKED" // revoked license
	devBeta        = "SRV-BETA"    // belongs to beta
	otherClient    = "other-client"
)

func testSeed() authority.Seed {
	user := []authority.UserSeed{{Username: alice, Password: alicePW}}
	lic := func(id string, typ wire.LicenseType, renewal time.Time, revoked bool) *authority.LicenseSeed {
		return &authority.LicenseSeed{ID: id, Type: typ, Customer: "Acme Stores", Capacity: 12, RenewalDate: renewal,
			TransactionID: "TXN-" + id, Revoked: revoked}
	}
	return authority.Seed{
		Clients: []string{otherClient},
		Organizations: []authority.OrganizationSeed{
			{ID: orgAcme, Name: "Acme Stores", Users: user, Devices: []authority.DeviceSeed{
				{ServerID: devMain, Name: "Main Store", InstallCode: "IC-1", HubServerName: "hub-1", HubServerURL: "https://hub-1.example",
					Features: []string{"xms"}, License: lic("LIC-MAIN", wire.Subscription, t0.AddDate(1, 0, 0), false)},
				{ServerID: devPerpetual, Name: "Back Office", License: lic("LIC-PERP", wire.Perpetual, time.Time{}, false)},
				{ServerID: devExpired, Name: "Old Shop", License: lic("LIC-OLD", wire.Subscription, t0.Add(-24*time.Hour), false)},
				{ServerID: devRevoked, Name: "Closed Shop", License: lic("LIC-REV", wire.Subscription, t0.AddDate(1, 0, 0), true)},
			}},
			{ID: orgBeta, Name: "Beta Bakery", Users: user, Devices: []authority.DeviceSeed{
				{ServerID: devBeta, Name: "Bakery Till", License: lic("LIC-BETA", wire.Perpetual, time.Time{}, false)},
			}},
		},
	}
}

// env is one authority behind a loopback httptest server whose URL (the
// issuer) survives restarts of the authority.
type env struct {
	t     *testing.T
	clock *fakeClock
	opts  authority.Options
	srv   *authority.Server
	ts    *httptest.Server
	url   string
	h     atomic.Pointer[http.Handler]
}

func newEnv(t *testing.T, mod ...func(*authority.Options)) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{t: t0}}
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*e.h.Load()).ServeHTTP(w, r)
	}))
	e.url = "http://" + e.ts.Listener.Addr().String()
	e.opts = authority.Options{
		DataDir: t.TempDir(), Issuer: e.url, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Now: e.clock.Now, Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1},
	}
	for _, m := range mod {
		m(&e.opts)
	}
	e.start()
	if err := e.srv.Seed(testSeed()); err != nil {
		t.Fatal(err)
	}
	e.ts.Start()
	t.Cleanup(func() {
		e.ts.Close()
		_ = e.srv.Close()
	})
	return e
}

func (e *env) start() {
	e.t.Helper()
	srv, err := authority.New(e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	h := srv.Handler()
	e.h.Store(&h)
}

// restart closes the authority and opens a new one on the same data.
func (e *env) restart() {
	e.t.Helper()
	if err := e.srv.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.start()
}

// oauthReply is a decoded JSON answer of an OAuth endpoint.
type oauthReply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r oauthReply) str(k string) string { s, _ := r.body[k].(string); return s }

func (e *env) postOAuth(path string, form url.Values) oauthReply {
	e.t.Helper()
	resp, err := http.PostForm(e.url+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return decodeReply(e.t, resp)
}

func decodeReply(t *testing.T, resp *http.Response) oauthReply {
	t.Helper()
	defer resp.Body.Close()
	r := oauthReply{status: resp.StatusCode, header: resp.Header}
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &r.body); err != nil {
		t.Fatalf("status %d: body is not JSON: %q", resp.StatusCode, data)
	}
	return r
}

// wantError asserts the RFC 6749 §5.2 error shape.
func wantError(t *testing.T, r oauthReply, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %v, want %d error=%s", r.status, r.body, status, code)
	}
	if r.str("error_description") == "" {
		t.Errorf("error %s without error_description", code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

func (e *env) authorize(extra ...string) oauthReply {
	e.t.Helper()
	form := url.Values{"client_id": {authority.DefaultClientID}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	r := e.postOAuth("/device/authorize", form)
	if r.status != http.StatusOK {
		e.t.Fatalf("authorize: %d %v", r.status, r.body)
	}
	return r
}

func (e *env) poll(deviceCode string) oauthReply {
	e.t.Helper()
	return e.postOAuth("/token", url.Values{"client_id": {authority.DefaultClientID},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}})
}

func (e *env) refresh(token string) oauthReply {
	e.t.Helper()
	return e.postOAuth("/token", url.Values{"client_id": {authority.DefaultClientID},
		"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// acquire runs the whole flow for serverID and returns the token answer.
func (e *env) acquire(serverID string) oauthReply {
	e.t.Helper()
	da := e.authorize()
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), serverID, "approve")
	r := e.poll(da.str("device_code"))
	if r.status != http.StatusOK {
		e.t.Fatalf("token: %d %v", r.status, r.body)
	}
	return r
}

// verifier checks tokens like a register would, with the JWKS fetched over
// HTTP now.
func (e *env) verifier() *licensecore.Verifier {
	e.t.Helper()
	resp, err := http.Get(e.url + "/.well-known/jwks.json")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	set, _, err := wire.ParseJWKS(data)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := licensecore.NewVerifier(licensecore.VerifierOptions{Issuer: e.url, Audience: wire.DefaultAudience,
		Leeway: 30 * time.Second, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := v.SetKeySet(set); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// browser drives the pages with plain HTTP and a cookie jar.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (e *env) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar}}
}

// login signs in and chooses org; org "" stops after sign-in.
func (e *env) login(user, password, org string) *browser {
	e.t.Helper()
	b := e.newBrowser()
	b.get("/login")
	if st, body := b.post("/login", url.Values{"username": {user}, "password": {password}}); st != http.StatusOK {
		e.t.Fatalf("login: %d %s", st, body)
	}
	if org != "" {
		if st, body := b.post("/org", url.Values{"org": {org}}); st != http.StatusOK || !strings.Contains(body, `id="device-form"`) {
			e.t.Fatalf("choose org: %d %s", st, body)
		}
	}
	return b
}

func (b *browser) keep(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(data); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(data)
}

func (b *browser) get(path string) (int, string) {
	b.e.t.Helper()
	resp, err := b.c.Get(b.e.url + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.keep(resp)
}

// post submits a form with the page's CSRF token unless form sets one.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.e.t.Helper()
	if !form.Has("csrf_token") {
		form.Set("csrf_token", b.csrf)
	}
	resp, err := b.c.PostForm(b.e.url+path, form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.keep(resp)
}

// decide enters the code on the Authorize Device page and confirms with
// action "approve" or "deny".
func (b *browser) decide(userCode, serverID, action string) {
	b.e.t.Helper()
	st, body := b.post("/device", url.Values{"user_code": {userCode}, "device": {serverID}})
	if st != http.StatusOK || !strings.Contains(body, `id="confirm-form"`) {
		b.e.t.Fatalf("device page: %d %s", st, body)
	}
	st, body = b.post("/device/confirm", url.Values{"user_code": {userCode}, "device": {serverID}, "action": {action}})
	want := map[string]string{"approve": `id="success"`, "deny": `id="denied"`}[action]
	if st != http.StatusOK || !strings.Contains(body, want) {
		b.e.t.Fatalf("confirm %s: %d %s", action, st, body)
	}
}
