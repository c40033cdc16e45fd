package authority_test

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

func TestDeviceAuthorizeResponse(t *testing.T) {
	e := newEnv(t)
	r := e.authorize("device_name", "Till PC", "install_code", "IC-9")
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	code := r.str("user_code")
	if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(code) {
		t.Errorf("user_code %q", code)
	}
	raw, err := base64.RawURLEncoding.DecodeString(r.str("device_code"))
	if err != nil || len(raw)*8 < 128 {
		t.Errorf("device_code %q has fewer than 128 random bits", r.str("device_code"))
	}
	if r.str("verification_uri") != e.url+"/device" {
		t.Errorf("verification_uri %q", r.str("verification_uri"))
	}
	if r.str("verification_uri_complete") != e.url+"/device?user_code="+code {
		t.Errorf("verification_uri_complete %q", r.str("verification_uri_complete"))
	}
	if r.body["expires_in"] != 600.0 || r.body["interval"] != 5.0 {
		t.Errorf("expires_in %v interval %v", r.body["expires_in"], r.body["interval"])
	}
	if other := e.authorize(); other.str("device_code") == r.str("device_code") || other.str("user_code") == code {
		t.Error("two authorizations share a code")
	}
}

// TestOAuthErrors covers every RFC 6749 / RFC 8628 error answer of the two
// endpoints and the malformed-input cases.
func TestOAuthErrors(t *testing.T) {
	e := newEnv(t)
	deviceGrant := "urn:ietf:params:oauth:grant-type:device_code"
	pending := e.authorize().str("device_code")
	denied := e.authorize()
	e.login(alice, alicePW, orgAcme).decide(denied.str("user_code"), devMain, "deny")
	tok := e.acquire(devMain)

	type req struct {
		method, path, contentType, body, basicAuth string
	}
	form := func(path string, kv ...string) req {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return req{method: http.MethodPost, path: path, contentType: "application/x-www-form-urlencoded", body: v.Encode()}
	}
	withBasic := form("/token", "grant_type", deviceGrant, "device_code", pending)
	withBasic.basicAuth = authority.DefaultClientID
	wrongType := form("/token", "client_id", authority.DefaultClientID, "grant_type", deviceGrant)
	wrongType.contentType = "application/json"
	malformed := form("/token")
	malformed.body = "client_id=license-desk&grant_type=%zz"
	huge := form("/token", "client_id", authority.DefaultClientID, "grant_type", deviceGrant, "device_code", strings.Repeat("A", 1<<20))

	tests := []struct {
		name   string
		req    req
		status int
		code   string
	}{
		{"authorize unknown client", form("/device/authorize", "client_id", "nobody"), 401, "invalid_client"},
		{"authorize without client_id", form("/device/authorize"), 400, "invalid_request"},
		{"authorize with GET", req{method: http.MethodGet, path: "/device/authorize"}, 405, "invalid_request"},
		{"authorize repeated parameter", form("/device/authorize", "client_id", "license-desk", "client_id", "license-desk"), 400, "invalid_request"},
		{"token with GET", req{method: http.MethodGet, path: "/token"}, 405, "invalid_request"},
		{"token JSON body", wrongType, 400, "invalid_request"},
		{"token malformed body", malformed, 400, "invalid_request"},
		{"token huge body", huge, 413, "invalid_request"},
		{"token HTTP Basic", withBasic, 401, "invalid_client"},
		{"token unknown client", form("/token", "client_id", "nobody", "grant_type", deviceGrant, "device_code", pending), 401, "invalid_client"},
		{"missing grant_type", form("/token", "client_id", "license-desk"), 400, "invalid_request"},
		{"bad grant_type", form("/token", "client_id", "license-desk", "grant_type", "password"), 400, "unsupported_grant_type"},
		{"missing device_code", form("/token", "client_id", "license-desk", "grant_type", deviceGrant), 400, "invalid_request"},
		{"unknown device_code", form("/token", "client_id", "license-desk", "grant_type", deviceGrant, "device_code", "nope"), 400, "invalid_grant"},
		{"device_code of another client", form("/token", "client_id", otherClient, "grant_type", deviceGrant, "device_code", pending), 400, "invalid_grant"},
		{"pending", form("/token", "client_id", "license-desk", "grant_type", deviceGrant, "device_code", pending), 400, "authorization_pending"},
		{"denied", form("/token", "client_id", "license-desk", "grant_type", deviceGrant, "device_code", denied.str("device_code")), 400, "access_denied"},
		{"missing refresh_token", form("/token", "client_id", "license-desk", "grant_type", "refresh_token"), 400, "invalid_request"},
		{"unknown refresh_token", form("/token", "client_id", "license-desk", "grant_type", "refresh_token", "refresh_token", "nope"), 400, "invalid_grant"},
		{"refresh_token of another client", form("/token", "client_id", otherClient, "grant_type", "refresh_token", "refresh_token", tok.str("refresh_token")), 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(tt.req.method, e.url+tt.req.path, strings.NewReader(tt.req.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.req.contentType != "" {
				r.Header.Set("Content-Type", tt.req.contentType)
			}
			if tt.req.basicAuth != "" {
				r.SetBasicAuth(tt.req.basicAuth, "")
			}
			r.Header.Set(wire.HeaderDPoP, e.pc.proof(tt.req.method, tt.req.path))
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeReply(t, resp)
			wantError(t, got, tt.status, tt.code)
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestDeviceCodeSingleUse(t *testing.T) {
	e := newEnv(t)
	da := e.authorize()
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, "approve")
	first := e.poll(da.str("device_code"))
	if first.status != 200 || first.str("access_token") == "" {
		t.Fatalf("first redemption: %d %v", first.status, first.body)
	}
	wantError(t, e.poll(da.str("device_code")), 400, "invalid_grant")
	// The user code is spent too: it cannot be approved again.
	b := e.login(alice, alicePW, orgAcme)
	if st, _ := b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devMain}}); st != http.StatusBadRequest {
		t.Errorf("reusing a user code: %d", st)
	}
}

func TestDeviceCodeExpiry(t *testing.T) {
	tests := []struct {
		name   string
		decide string // "", "approve" or "deny" before expiry
	}{
		{"pending", ""},
		{"approved but not redeemed", "approve"},
		{"denied", "deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			da := e.authorize()
			if tt.decide != "" {
				e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, tt.decide)
			}
			e.clock.Advance(10*time.Minute + time.Second)
			wantError(t, e.poll(da.str("device_code")), 400, "expired_token")
			wantError(t, e.poll(da.str("device_code")), 400, "expired_token") // never pending later either
		})
	}
	t.Run("cannot be approved after expiry", func(t *testing.T) {
		e := newEnv(t)
		da := e.authorize()
		b := e.login(alice, alicePW, orgAcme)
		e.clock.Advance(10 * time.Minute)
		st, body := b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devMain}})
		if st != http.StatusBadRequest || !strings.Contains(body, "expired") {
			t.Fatalf("got %d", st)
		}
	})
}

func TestSlowDown(t *testing.T) {
	e := newEnv(t)
	dc := e.authorize().str("device_code")
	steps := []struct {
		wait time.Duration
		want string
	}{
		{0, "authorization_pending"},   // the first poll may come at once
		{time.Second, "slow_down"},     // interval 5 s → now 10 s
		{6 * time.Second, "slow_down"}, // 5 s was enough before, not now → 15 s
		{15 * time.Second, "authorization_pending"},
		{15 * time.Second, "authorization_pending"},
		{14 * time.Second, "authorization_pending"}, // within the 10% jitter allowance
	}
	for i, s := range steps {
		e.clock.Advance(s.wait)
		r := e.poll(dc)
		if r.str("error") != s.want {
			t.Fatalf("step %d: got %v, want %s", i, r.body, s.want)
		}
	}
}

func TestTokenClaims(t *testing.T) {
	e := newEnv(t)
	da := e.authorize("device_name", "Till PC")
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, "approve")
	r := e.poll(da.str("device_code"))
	if r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(72*3600) || r.str("refresh_token") == "" {
		t.Fatalf("token response %v", r.body)
	}
	if r.str("access_token") != r.str(wire.TokenResponseLicenseField) {
		t.Error("licence_token differs from access_token")
	}
	c, err := e.verifier().Verify(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Claims{LicenseID: "LIC-MAIN", Type: wire.Subscription, Customer: "Acme Stores",
		Features: []string{"xms"}, HubServerName: "hub-1", HubServerURL: "https://hub-1.example", Capacity: 12,
		RenewalDate: t0.AddDate(1, 0, 0).Unix(), TransactionID: "TXN-LIC-MAIN", DeviceName: "Main Store"}
	got := *c
	got.RegisteredClaims = want.RegisteredClaims
	if !slices.Equal(got.Features, want.Features) {
		t.Errorf("features %v", got.Features)
	}
	got.Features = want.Features
	if !equalClaims(got, want) {
		t.Errorf("claims %+v, want %+v", got, want)
	}
	if c.Subject != devMain || c.Issuer != e.url || !slices.Contains(c.Audience, wire.DefaultAudience) || c.ID == "" {
		t.Errorf("registered claims %+v", c.RegisteredClaims)
	}
	if !c.IssuedAt.Equal(t0) || !c.NotBefore.Equal(t0) || !c.ExpiresAt.Equal(t0.Add(72*time.Hour)) {
		t.Errorf("iat %v nbf %v exp %v", c.IssuedAt, c.NotBefore, c.ExpiresAt)
	}
}

func equalClaims(a, b wire.Claims) bool {
	return a.LicenseID == b.LicenseID && a.Type == b.Type && a.Customer == b.Customer && a.HubServerName == b.HubServerName &&
		a.HubServerURL == b.HubServerURL && a.Capacity == b.Capacity && a.RenewalDate == b.RenewalDate &&
		a.TransactionID == b.TransactionID && a.DeviceName == b.DeviceName
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	first := e.acquire(devMain)
	e.clock.Advance(36 * time.Hour)
	second := e.refresh(first.str("refresh_token"))
	if second.status != 200 {
		t.Fatalf("refresh: %d %v", second.status, second.body)
	}
	if second.str("refresh_token") == first.str("refresh_token") || second.str("access_token") == first.str("access_token") {
		t.Fatal("refresh did not rotate")
	}
	c, err := e.verifier().Verify(second.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(t0.Add(36*time.Hour + 72*time.Hour)) {
		t.Errorf("refreshed exp %v", c.ExpiresAt)
	}
	if third := e.refresh(second.str("refresh_token")); third.status != 200 {
		t.Fatalf("the rotated token must work: %v", third.body)
	}
	wantError(t, e.refresh(first.str("refresh_token")), 400, "invalid_grant") // reuse of the old one
}

func TestLicenseRefusals(t *testing.T) {
	refreshCases := []struct {
		name, code, desc string
		reason           wire.Reason
		change           func(e *env) error
	}{
		{"revoked on refresh", "access_denied", "license revoked", wire.ReasonLicenseRevoked,
			func(e *env) error { return e.srv.RevokeLicense("LIC-MAIN") }},
		{"past renewal on refresh", "invalid_grant", "license expired — requires renewal", wire.ReasonLicenseExpired,
			func(e *env) error { e.clock.Advance(366 * 24 * time.Hour); return nil }},
	}
	for _, tt := range refreshCases {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.acquire(devMain)
			if err := tt.change(e); err != nil {
				t.Fatal(err)
			}
			r := e.refresh(tok.str("refresh_token"))
			wantError(t, r, 400, tt.code)
			if r.str("error_description") != tt.desc {
				t.Errorf("description %q", r.str("error_description"))
			}
			// Clients decide on the reason, never on the description's words.
			if r.str("reason") != string(tt.reason) {
				t.Errorf("reason %q, want %q", r.str("reason"), tt.reason)
			}
		})
	}
	t.Run("revoked between approval and redemption", func(t *testing.T) {
		e := newEnv(t)
		da := e.authorize()
		e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, "approve")
		if err := e.srv.RevokeLicense("LIC-MAIN"); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.poll(da.str("device_code")), 400, "access_denied")
	})
	t.Run("unknown license", func(t *testing.T) {
		e := newEnv(t)
		if err := e.srv.RevokeLicense("LIC-NOPE"); !errors.Is(err, authority.ErrUnknownLicense) {
			t.Fatalf("got %v", err)
		}
	})
	for _, dev := range []string{devExpired, devRevoked} {
		t.Run("page refuses "+dev, func(t *testing.T) {
			e := newEnv(t)
			da := e.authorize()
			b := e.login(alice, alicePW, orgAcme)
			st, body := b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {dev}})
			if st != http.StatusConflict || !strings.Contains(body, `id="error-message"`) {
				t.Fatalf("got %d %s", st, body)
			}
		})
	}
}

func TestPerpetualLicenseHasNoRenewal(t *testing.T) {
	e := newEnv(t)
	tok := e.acquire(devPerpetual)
	c, err := e.verifier().Verify(tok.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if c.RenewalDate != 0 || c.Type != wire.Perpetual || c.Features == nil {
		t.Errorf("claims %+v", c)
	}
	e.clock.Advance(60 * 24 * time.Hour)
	next := e.refresh(tok.str("refresh_token"))
	if next.status != http.StatusOK {
		t.Fatalf("refresh after 60 days: %v", next.body)
	}
	e.clock.Advance(91 * 24 * time.Hour)
	if r := e.refresh(next.str("refresh_token")); r.status != http.StatusBadRequest || r.str("error_description") != "refresh token has expired" {
		t.Errorf("a 90-day refresh token after 91 days: %v", r.body)
	}
}

func TestHealthAndJWKS(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if r := decodeReply(t, resp); r.status != 200 || r.str("status") != "ok" {
		t.Errorf("healthz %d %v", r.status, r.body)
	}
	resp, err = http.Get(e.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, keys, err := wire.ParseJWKS(data)
	if err != nil || len(keys) != 1 || set.Keys[0].Alg != "EdDSA" {
		t.Fatalf("jwks %s: %v", data, err)
	}
}
