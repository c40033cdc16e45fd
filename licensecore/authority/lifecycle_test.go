package authority_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

func (e *env) lifecycle(path string, kv ...string) oauthReply {
	e.t.Helper()
	form := url.Values{"client_id": {authority.DefaultClientID}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return e.postOAuth(path, form)
}

func (e *env) verify(token string) oauthReply {
	e.t.Helper()
	return e.lifecycle("/licence/verify", "licence_token", token)
}

func (e *env) switchStatus(id string) oauthReply {
	e.t.Helper()
	return e.pc.get("/licence/switch/" + id)
}

// get fetches path with this PC's DPoP proof.
func (p *pc) get(path string) oauthReply {
	p.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.e.url+path, nil)
	if err != nil {
		p.e.t.Fatal(err)
	}
	req.Header.Set(wire.HeaderDPoP, p.proof(http.MethodGet, path))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return decodeReply(p.e.t, resp)
}

func TestVerifyEndpoint(t *testing.T) {
	cases := []struct {
		name, device, want string
		typ                wire.LicenseType
		after              func(e *env) // between acquisition and verification
	}{
		{"subscription valid", devMain, "valid", wire.Subscription, nil},
		{"perpetual valid even years later with an expired token", devPerpetual, "valid", wire.Perpetual,
			func(e *env) { e.clock.Advance(5 * 365 * 24 * time.Hour) }},
		{"revoked", devMain, "revoked", wire.Subscription,
			func(e *env) {
				if err := e.srv.RevokeLicense("LIC-MAIN"); err != nil {
					e.t.Fatal(err)
				}
			}},
		{"past renewal", devMain, "expired", wire.Subscription, func(e *env) { e.clock.Advance(366 * 24 * time.Hour) }},
		{"signed by a rotated-out key", devMain, "valid", wire.Subscription,
			func(e *env) {
				if err := e.srv.RotateKey(); err != nil {
					e.t.Fatal(err)
				}
				e.clock.Advance(wire.OfflineWindow + 25*time.Hour) // the old key has left the JWKS
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.acquire(tc.device).str("licence_token")
			if tc.after != nil {
				tc.after(e)
			}
			r := e.verify(tok)
			if r.status != 200 || r.str("result") != tc.want || r.str("type") != string(tc.typ) || r.str("licence_id") == "" {
				t.Fatalf("verify: %d %v", r.status, r.body)
			}
			if at, err := time.Parse(time.RFC3339, r.str("checked_at")); err != nil || !at.Equal(e.clock.Now()) {
				t.Errorf("checked_at %q (%v), want %v", r.str("checked_at"), err, e.clock.Now())
			}
		})
	}
}

func TestVerifyEndpointRefusals(t *testing.T) {
	e := newEnv(t)
	good := e.acquire(devMain).str("licence_token")
	_, foreign, _ := ed25519.GenerateKey(nil)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &wire.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: e.url, Subject: devMain, Audience: jwt.ClaimStrings{wire.DefaultAudience}},
		LicenseID:        "LIC-MAIN", Type: wire.Perpetual,
	})
	forged.Header["kid"] = "not-ours"
	forgedTok, _ := forged.SignedString(foreign)
	parts := strings.Split(good, ".")
	cases := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no token", url.Values{"client_id": {authority.DefaultClientID}}, 400, "invalid_request"},
		{"garbage", url.Values{"client_id": {authority.DefaultClientID}, "licence_token": {"not a token"}}, 400, "invalid_grant"},
		{"foreign key", url.Values{"client_id": {authority.DefaultClientID}, "licence_token": {forgedTok}}, 400, "invalid_grant"},
		{"payload swapped", url.Values{"client_id": {authority.DefaultClientID}, "licence_token": {parts[0] + "." + strings.Split(forgedTok, ".")[1] + "." + parts[2]}}, 400, "invalid_grant"},
		{"too large", url.Values{"client_id": {authority.DefaultClientID}, "licence_token": {strings.Repeat("a", wire.MaxTokenSize+1)}}, 413, "invalid_request"},
		{"unknown client", url.Values{"client_id": {"stranger"}, "licence_token": {good}}, 401, "invalid_client"},
		{"no client", url.Values{"licence_token": {good}}, 400, "invalid_request"},
		{"repeated parameter", url.Values{"client_id": {authority.DefaultClientID}, "licence_token": {good, good}}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.postOAuth("/licence/verify", tc.form), tc.status, tc.code)
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(e.url + "/licence/verify")
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, decodeReply(t, resp), 405, "invalid_request")
	})
}

func TestReleaseEndpoint(t *testing.T) {
	e := newEnv(t)
	first := e.acquire(devMain)
	second := e.acquire(devMain) // approved again: first's chain is revoked
	rotated := e.refresh(second.str("refresh_token"))
	wantError(t, e.lifecycle("/licence/release", "refresh_token", second.str("refresh_token")), 400, "invalid_grant") // rotated
	wantError(t, e.lifecycle("/licence/release", "refresh_token", "unknown"), 400, "invalid_grant")
	wantError(t, e.lifecycle("/licence/release"), 400, "invalid_request")
	other := e.acquire(devPerpetual)
	if r := e.lifecycle("/licence/release", "refresh_token", first.str("refresh_token")); r.str("reason") != string(wire.ReasonLicenseMoved) {
		t.Fatalf("release with a moved chain: %d %v", r.status, r.body)
	}
	if r := e.lifecycle("/licence/release", "refresh_token", rotated.str("refresh_token")); r.status != 200 || r.body["released"] != true {
		t.Fatalf("release: %d %v", r.status, r.body)
	}
	for _, rt := range []string{first.str("refresh_token"), rotated.str("refresh_token")} {
		wantError(t, e.refresh(rt), 400, "invalid_grant")
		wantError(t, e.lifecycle("/licence/release", "refresh_token", rt), 400, "invalid_grant")
	}
	other = e.refresh(other.str("refresh_token"))
	if other.status != 200 {
		t.Fatalf("another device's tokens must keep working: %v", other.body)
	}
	// Past its refresh token's expiry a device can still be released, and
	// it is then free for a new acquisition.
	e.clock.Advance(400 * 24 * time.Hour)
	if r := e.lifecycle("/licence/release", "refresh_token", other.str("refresh_token")); r.status != 200 {
		t.Fatalf("release with an expired refresh token: %d %v", r.status, r.body)
	}
	if r := e.acquire(devPerpetual); r.str("licence_token") == "" {
		t.Fatal("re-acquisition gave no token")
	}
}

var switchRowRE = regexp.MustCompile(`<tr id="switch-([^"]+)">`)

func TestSwitchFlow(t *testing.T) {
	e := newEnv(t)
	tok := e.acquire(devMain)
	refresh := tok.str("refresh_token")
	r := e.lifecycle("/licence/switch", "refresh_token", refresh, "to", "perpetual")
	id := r.str("request_id")
	if r.status != http.StatusAccepted || r.str("status") != "pending" || id == "" || r.str("approve_uri") != e.url+"/switch" {
		t.Fatalf("switch request: %d %v", r.status, r.body)
	}
	if again := e.lifecycle("/licence/switch", "refresh_token", refresh, "to", "perpetual"); again.str("request_id") != id {
		t.Fatalf("asking twice made a second request: %v", again.body)
	}
	if st := e.switchStatus(id); st.status != 200 || st.str("status") != "pending" || st.str("from") != "subscription" || st.str("to") != "perpetual" {
		t.Fatalf("status: %d %v", st.status, st.body)
	}

	b := e.login(alice, alicePW, orgAcme)
	st, page := b.get("/switch")
	rows := switchRowRE.FindAllStringSubmatch(page, -1)
	if st != 200 || len(rows) != 1 || rows[0][1] != id || !strings.Contains(page, "Main Store") || !strings.Contains(page, `id="nav-switch"`) {
		t.Fatalf("switch page: %d %s", st, page)
	}
	if st, page = b.post("/switch", url.Values{"request_id": {id}, "action": {"approve"}}); st != 200 || !strings.Contains(page, `id="switch-message"`) || !strings.Contains(page, `id="no-switch-requests"`) {
		t.Fatalf("approve: %d %s", st, page)
	}
	if st, _ := b.post("/switch", url.Values{"request_id": {id}, "action": {"deny"}}); st != http.StatusConflict {
		t.Fatalf("second decision: %d", st)
	}
	if st := e.switchStatus(id); st.str("status") != "approved" {
		t.Fatalf("after approval: %v", st.body)
	}

	// The same refresh token keeps working and the new token is perpetual.
	next := e.refresh(refresh)
	c, err := e.verifier().Verify(next.str("licence_token"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != wire.Perpetual || c.RenewalDate != 0 || c.Subject != devMain || c.LicenseID != "LIC-MAIN" {
		t.Fatalf("claims after the switch: %+v", c)
	}
	if v := e.verify(tok.str("licence_token")); v.str("type") != "perpetual" || v.str("result") != "valid" {
		t.Fatalf("verify after the switch: %v", v.body)
	}

	// Back to subscription: denied, so nothing changes.
	r = e.lifecycle("/licence/switch", "refresh_token", next.str("refresh_token"), "to", "subscription")
	if st, _ := b.post("/switch", url.Values{"request_id": {r.str("request_id")}, "action": {"deny"}}); st != 200 {
		t.Fatalf("deny: %d", st)
	}
	if st := e.switchStatus(r.str("request_id")); st.str("status") != "denied" {
		t.Fatalf("after denial: %v", st.body)
	}
	if v := e.verify(tok.str("licence_token")); v.str("type") != "perpetual" {
		t.Fatalf("denied switch changed the license: %v", v.body)
	}

	// Approved to subscription: renews on the date the subscription had.
	r = e.lifecycle("/licence/switch", "refresh_token", next.str("refresh_token"), "to", "subscription")
	if err := e.srv.DecideSwitch(r.str("request_id"), orgAcme, true, "cli"); err != nil {
		t.Fatal(err)
	}
	c, err = e.verifier().Verify(e.refresh(next.str("refresh_token")).str("licence_token"))
	if err != nil || c.Type != wire.Subscription || c.RenewalDate != t0.AddDate(1, 0, 0).Unix() {
		t.Fatalf("claims after switching back: %+v, %v", c, err)
	}
}

func TestSwitchRequestRefusals(t *testing.T) {
	e := newEnv(t)
	refresh := e.acquire(devMain).str("refresh_token")
	cases := []struct {
		name   string
		kv     []string
		status int
		code   string
	}{
		{"bad type", []string{"refresh_token", refresh, "to", "forever"}, 400, "invalid_request"},
		{"no type", []string{"refresh_token", refresh}, 400, "invalid_request"},
		{"already that type", []string{"refresh_token", refresh, "to", "subscription"}, 400, "invalid_request"},
		{"unknown refresh token", []string{"refresh_token", "nope", "to", "perpetual"}, 400, "invalid_grant"},
		{"no refresh token", []string{"to", "perpetual"}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.lifecycle("/licence/switch", tc.kv...), tc.status, tc.code)
		})
	}
	t.Run("unknown request id", func(t *testing.T) {
		wantError(t, e.switchStatus("no-such-request"), 404, string(wire.CodeNotFound))
	})
	t.Run("revoked", func(t *testing.T) {
		if err := e.srv.RevokeLicense("LIC-MAIN"); err != nil {
			t.Fatal(err)
		}
		r := e.lifecycle("/licence/switch", "refresh_token", refresh, "to", "perpetual")
		wantError(t, r, 400, "access_denied")
		if r.str("reason") != string(wire.ReasonLicenseRevoked) {
			t.Errorf("reason %q", r.str("reason"))
		}
	})
}

func TestSwitchPageGuards(t *testing.T) {
	e := newEnv(t)
	refresh := e.acquire(devMain).str("refresh_token")
	id := e.lifecycle("/licence/switch", "refresh_token", refresh, "to", "perpetual").str("request_id")
	t.Run("sign-in required", func(t *testing.T) {
		b := e.newBrowser()
		if st, body := b.get("/switch"); st != 200 || !strings.Contains(body, `id="login-form"`) {
			t.Fatalf("anonymous /switch: %d", st)
		}
	})
	for _, tok := range []string{"", "forged-token"} {
		t.Run("csrf "+tok, func(t *testing.T) {
			b := e.login(alice, alicePW, orgAcme)
			if st, _ := b.post("/switch", url.Values{"csrf_token": {tok}, "request_id": {id}, "action": {"approve"}}); st != http.StatusForbidden {
				t.Fatalf("got %d, want 403", st)
			}
		})
	}
	t.Run("another organization", func(t *testing.T) {
		b := e.login(bob, bobPW, orgBeta)
		if _, body := b.get("/switch"); strings.Contains(body, id) {
			t.Fatal("beta sees acme's request")
		}
		if st, _ := b.post("/switch", url.Values{"request_id": {id}, "action": {"approve"}}); st != http.StatusForbidden {
			t.Fatalf("got %d, want 403", st)
		}
	})
	t.Run("bad action", func(t *testing.T) {
		b := e.login(alice, alicePW, orgAcme)
		b.get("/switch")
		if st, _ := b.post("/switch", url.Values{"request_id": {id}, "action": {"maybe"}}); st != http.StatusBadRequest {
			t.Fatalf("got %d, want 400", st)
		}
	})
	if st := e.switchStatus(id); st.str("status") != "pending" {
		t.Fatalf("a refused decision changed the request: %v", st.body)
	}
	t.Run("release withdraws it", func(t *testing.T) {
		if r := e.lifecycle("/licence/release", "refresh_token", refresh); r.status != 200 {
			t.Fatalf("release: %v", r.body)
		}
		if st := e.switchStatus(id); st.str("status") != "denied" {
			t.Fatalf("after release: %v", st.body)
		}
	})
}

func TestEntitlements(t *testing.T) {
	e := newEnv(t)
	seed := testSeed()
	lic := seed.Organizations[0].Devices[0].License
	lic.Modules, lic.Users, lic.AccountNumber, lic.SerialNumber = []string{"kds"}, 4, "ACC-7", "SER-9"
	if err := e.srv.Seed(seed); err != nil {
		t.Fatal(err)
	}
	first := e.acquire(devMain)
	c, err := e.verifier().Verify(first.str("licence_token"))
	if err != nil || !slices.Equal(c.Modules, []string{"kds"}) || c.Users != 4 || c.AccountNumber != "ACC-7" || c.SerialNumber != "SER-9" {
		t.Fatalf("seeded entitlements: %+v %v", c, err)
	}
	want := authority.Entitlements{Features: []string{"xms", "loyalty"}, Modules: []string{"kds", "tables"}, Users: 10, Capacity: 20}
	if err := e.srv.SetEntitlements("LIC-MAIN", want); err != nil {
		t.Fatal(err)
	}
	if got, err := e.srv.Entitlements("LIC-MAIN"); err != nil || !slices.Equal(got.Features, want.Features) || !slices.Equal(got.Modules, want.Modules) || got.Users != 10 || got.Capacity != 20 {
		t.Fatalf("Entitlements: %+v %v", got, err)
	}
	c, err = e.verifier().Verify(e.refresh(first.str("refresh_token")).str("licence_token"))
	if err != nil || !slices.Equal(c.Features, want.Features) || !slices.Equal(c.Modules, want.Modules) || c.Users != 10 || c.Capacity != 20 || c.AccountNumber != "ACC-7" {
		t.Fatalf("refreshed entitlements: %+v %v", c, err)
	}
	if err := e.srv.SetEntitlements("LIC-NONE", want); !errors.Is(err, authority.ErrUnknownLicense) {
		t.Fatalf("unknown license: %v", err)
	}
	if err := e.srv.SetEntitlements("LIC-MAIN", authority.Entitlements{Users: -1}); !errors.Is(err, authority.ErrInvalidEntitlements) {
		t.Fatalf("negative users: %v", err)
	}
}

// Download new license, authority side: add a module and users to the
// demo subscription; the device's next token carries them.
func ExampleServer_SetEntitlements() {
	dir, _ := os.MkdirTemp("", "authority-example-")
	defer os.RemoveAll(dir)
	srv, err := authority.New(authority.Options{DataDir: filepath.Join(dir, "data"), Issuer: "http://127.0.0.1:8080", Logger: zerolog.Nop()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if err := srv.Seed(authority.DemoSeed()); err != nil {
		fmt.Println(err)
		return
	}
	e, _ := srv.Entitlements("LIC-1001")
	e.Modules, e.Users = append(e.Modules, "kitchen-display"), 12
	if err := srv.SetEntitlements("LIC-1001", e); err != nil {
		fmt.Println(err)
		return
	}
	e, _ = srv.Entitlements("LIC-1001")
	fmt.Printf("%v %v users=%d capacity=%d\n", e.Features, e.Modules, e.Users, e.Capacity)
	// Output: [xms loyalty] [kitchen-display] users=12 capacity=8
}
