package authority_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
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

// Test data: alice is the vendor's staff and belongs to two organizations;
// carol is a customer's user in acme, bob in beta.
const (
	alice, alicePW = "alice", "correct horse battery staple"
	carol, carolPW = "carol", "carol's long passphrase"
	bob, bobPW     = "bob", "bob's long passphrase"
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
	vendor := authority.UserSeed{Username: alice, Password: alicePW, Role: authority.RoleVendor}
	acmeUsers := []authority.UserSeed{vendor, {Username: carol, Password: carolPW}}
	betaUsers := []authority.UserSeed{vendor, {Username: bob, Password: bobPW, Role: authority.RoleCustomer}}
	lic := func(id string, typ wire.LicenseType, renewal time.Time, revoked bool) *authority.LicenseSeed {
		return &authority.LicenseSeed{ID: id, Type: typ, Customer: "Acme Stores", Capacity: 12, RenewalDate: renewal,
			TransactionID: "TXN-" + id, Revoked: revoked}
	}
	return authority.Seed{
		Clients: []string{otherClient},
		Organizations: []authority.OrganizationSeed{
			{ID: orgAcme, Name: "Acme Stores", Users: acmeUsers, Devices: []authority.DeviceSeed{
				{ServerID: devMain, Name: "Main Store", InstallCode: "IC-1", HubServerName: "hub-1", HubServerURL: "https://hub-1.example",
					Features: []string{"xms"}, License: lic("LIC-MAIN", wire.Subscription, t0.AddDate(1, 0, 0), false)},
				{ServerID: devPerpetual, Name: "Back Office", License: lic("LIC-PERP", wire.Perpetual, time.Time{}, false)},
				{ServerID: devExpired, Name: "Old Shop", License: lic("LIC-OLD", wire.Subscription, t0.Add(-24*time.Hour), false)},
				{ServerID: devRevoked, Name: "Closed Shop", License: lic("LIC-REV", wire.Subscription, t0.AddDate(1, 0, 0), true)},
			}},
			{ID: orgBeta, Name: "Beta Bakery", Users: betaUsers, Devices: []authority.DeviceSeed{
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
	pc    *pc // the PC the helpers act as: install code IC-1 (devMain's)
}

// pc is one installation of License Desk as the authority sees it: its
// install code, its name, and its own Ed25519 key that makes the DPoP
// proofs.
type pc struct {
	e           *env
	installCode string
	name        string
	key         ed25519.PrivateKey
}

func (e *env) newPC(installCode, name string) *pc {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	return &pc{e: e, installCode: installCode, name: name, key: key}
}

// jkt is the thumbprint the authority binds this PC's tokens to.
func (p *pc) jkt() string { return wire.JWKThumbprint(p.key.Public().(ed25519.PublicKey)) }

// proof is a fresh DPoP proof for one request to path, at the test clock.
func (p *pc) proof(method, path string) string {
	p.e.t.Helper()
	return dpopProof(p.e.t, p.key, method, p.e.url+path, p.e.clock.Now())
}

func dpopProof(t testing.TB, key ed25519.PrivateKey, method, htu string, at time.Time) string {
	t.Helper()
	proof, err := newProof(key, method, htu, at)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

// newProof makes a DPoP proof with a random jti.
func newProof(key ed25519.PrivateKey, method, htu string, at time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	return wire.NewDPoPProof(key, method, htu, base64.RawURLEncoding.EncodeToString(jti), at)
}

// dpopTransport adds a fresh DPoP proof by key to every request, as
// License Desk's client does; it lets x/oauth2 act as that client.
type dpopTransport struct {
	key  ed25519.PrivateKey
	now  func() time.Time
	base http.RoundTripper
}

func (d *dpopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	u.RawQuery, u.Fragment = "", ""
	proof, err := newProof(d.key, r.Method, u.String(), d.now())
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set(wire.HeaderDPoP, proof)
	return d.base.RoundTrip(r)
}

func newEnv(t *testing.T, mod ...func(*authority.Options)) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{t: t0}}
	e.pc = e.newPC("IC-1", "Till PC")
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
	return e.pc.postOAuth(path, form)
}

// postOAuth posts a form with this PC's DPoP proof.
func (p *pc) postOAuth(path string, form url.Values) oauthReply {
	p.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		p.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(wire.HeaderDPoP, p.proof(http.MethodPost, path))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return decodeReply(p.e.t, resp)
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

func (e *env) authorize(extra ...string) oauthReply { e.t.Helper(); return e.pc.authorize(extra...) }
func (e *env) poll(deviceCode string) oauthReply    { e.t.Helper(); return e.pc.poll(deviceCode) }
func (e *env) refresh(token string) oauthReply      { e.t.Helper(); return e.pc.refresh(token) }
func (e *env) acquire(serverID string) oauthReply   { e.t.Helper(); return e.pc.acquire(serverID) }

// authorize starts a device authorization from this PC: it sends its
// install code unless extra sets one.
func (p *pc) authorize(extra ...string) oauthReply {
	p.e.t.Helper()
	form := url.Values{"client_id": {authority.DefaultClientID}, "install_code": {p.installCode}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	r := p.postOAuth("/device/authorize", form)
	if r.status != http.StatusOK {
		p.e.t.Fatalf("authorize: %d %v", r.status, r.body)
	}
	return r
}

func (p *pc) poll(deviceCode string) oauthReply {
	p.e.t.Helper()
	return p.postOAuth("/token", url.Values{"client_id": {authority.DefaultClientID},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}})
}

func (p *pc) refresh(token string) oauthReply {
	p.e.t.Helper()
	return p.postOAuth("/token", url.Values{"client_id": {authority.DefaultClientID},
		"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// acquire runs the whole flow for serverID and returns the token answer.
func (p *pc) acquire(serverID string) oauthReply {
	p.e.t.Helper()
	da := p.authorize("device_name", p.name)
	p.e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), serverID, "approve")
	r := p.poll(da.str("device_code"))
	if r.status != http.StatusOK {
		p.e.t.Fatalf("token: %d %v", r.status, r.body)
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
	return e.verifierFor(set)
}

// verifierFor checks tokens with set, at the test clock.
func (e *env) verifierFor(set wire.JWKS) *licensecore.Verifier {
	e.t.Helper()
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

// signedSet fetches the published key set as registers do: the JWS at
// wire.PathSignedJWKS, verified with the root public key.
func (e *env) signedSet() (wire.JWKS, wire.KeySetClaims) {
	e.t.Helper()
	resp, err := http.Get(e.url + wire.PathSignedJWKS)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jose" {
		e.t.Fatalf("GET %s: %d %s %q", wire.PathSignedJWKS, resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	set, claims, err := wire.VerifyKeySet(string(data), e.srv.RootPublicKey())
	if err != nil {
		e.t.Fatalf("the published key set does not verify with the root: %v", err)
	}
	return set, claims
}

// exchange is one raw request and its answer, for the signature checks.
type exchange struct {
	method, path, nonce, jkt string
	status                   int
	header                   http.Header
	body                     []byte
}

// send makes a request as p (no DPoP proof when p is nil) with a nonce.
func (e *env) send(p *pc, method, path, contentType, body string) exchange {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	x := exchange{method: method, path: path, nonce: base64.RawURLEncoding.EncodeToString(nonce)}
	req.Header.Set(wire.HeaderNonce, x.nonce)
	if p != nil {
		req.Header.Set(wire.HeaderDPoP, p.proof(method, path))
		x.jkt = p.jkt()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	x.status, x.header = resp.StatusCode, resp.Header
	x.body, _ = io.ReadAll(resp.Body)
	return x
}

// checkSigned verifies an answer's signature with the published key its
// kid names, as License Desk does, and returns the key.
func (e *env) checkSigned(x exchange) ed25519.PublicKey {
	e.t.Helper()
	set, _ := e.signedSet()
	keys, err := set.PublicKeys()
	if err != nil {
		e.t.Fatal(err)
	}
	pub, ok := keys[x.header.Get(wire.HeaderKeyID)]
	if !ok {
		e.t.Fatalf("%s %s: signed by %q, which is not published (%d %s)", x.method, x.path, x.header.Get(wire.HeaderKeyID), x.status, x.body)
	}
	at, err := strconv.ParseInt(x.header.Get(wire.HeaderSignedAt), 10, 64)
	if err != nil || at != e.clock.Now().Unix() {
		e.t.Fatalf("%s %s: signed at %q, want the authority's clock %d", x.method, x.path, x.header.Get(wire.HeaderSignedAt), e.clock.Now().Unix())
	}
	if err := wire.CheckAnswerSignature(pub, x.header.Get(wire.HeaderSignature), x.method, x.path, x.nonce, x.jkt, x.status, at, x.body); err != nil {
		e.t.Fatalf("%s %s: %d %s: %v", x.method, x.path, x.status, x.body, err)
	}
	return pub
}

// postWithoutProof posts a form as a client without a DPoP key.
func (e *env) postWithoutProof(path string, form url.Values) oauthReply {
	e.t.Helper()
	resp, err := http.PostForm(e.url+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return decodeReply(e.t, resp)
}

// reply decodes the answer of a request made by hand.
func (e *env) reply(resp *http.Response, err error) oauthReply {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	return decodeReply(e.t, resp)
}

func decodeJSON(data []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}
