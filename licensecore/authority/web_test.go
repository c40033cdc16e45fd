package authority_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
)

func TestCSRFRejected(t *testing.T) {
	e := newEnv(t)
	da := e.authorize()
	code := da.str("user_code")
	forms := map[string]url.Values{
		"/login":          {"username": {alice}, "password": {alicePW}},
		"/org":            {"org": {orgAcme}},
		"/device":         {"user_code": {code}, "device": {devMain}},
		"/device/confirm": {"user_code": {code}, "device": {devMain}, "action": {"approve"}},
		"/logout":         {},
	}
	tokens := []struct {
		name, token string
		session     bool
	}{
		{"missing token", "", true},
		{"wrong token", "forged-token", true},
		{"no session", "forged-token", false},
	}
	for path, form := range forms {
		for _, tok := range tokens {
			t.Run(path+" "+tok.name, func(t *testing.T) {
				b := e.newBrowser()
				if tok.session {
					b = e.login(alice, alicePW, orgAcme)
				}
				f := url.Values{"csrf_token": {tok.token}}
				for k, v := range form {
					f[k] = v
				}
				if st, _ := b.post(path, f); st != http.StatusForbidden {
					t.Fatalf("got %d, want 403", st)
				}
			})
		}
	}
	wantError(t, e.poll(da.str("device_code")), 400, "authorization_pending") // nothing was approved
}

func TestUserCodeRateLimit(t *testing.T) {
	wrong := []string{"BBBB-BBBB", "bcdf-bcdf", "not a code", "CCCC CCCC", "DDDDDDDD", "FFFF-FFFF", "GGGG-GGGG", "HHHH-HHHH", "JJJJ-JJJJ", "KKKK-KKKK"}
	t.Run("per IP across sessions", func(t *testing.T) {
		e := newEnv(t, func(o *authority.Options) {
			o.UserCodeIPLimit = authority.RateLimit{Max: 10, Window: 15 * time.Minute}
			o.UserCodeSessionLimit = authority.RateLimit{Max: 4, Window: 15 * time.Minute}
		})
		da := e.authorize()
		var b *browser
		for i, w := range wrong {
			if i%4 == 0 { // a fresh session never escapes the per-IP limit
				b = e.login(alice, alicePW, orgAcme)
			}
			if st, _ := b.post("/device", url.Values{"user_code": {w}, "device": {devMain}}); st != http.StatusBadRequest {
				t.Fatalf("wrong code %d: %d", i, st)
			}
		}
		b = e.login(alice, alicePW, orgAcme)
		if st, body := b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devMain}}); st != http.StatusTooManyRequests || !strings.Contains(body, "Too many") {
			t.Fatalf("11th attempt (right code): %d", st)
		}
		e.clock.Advance(15 * time.Minute)
		da = e.authorize() // the old code expired meanwhile
		b.decide(da.str("user_code"), devMain, "approve")
	})
	t.Run("per session", func(t *testing.T) {
		e := newEnv(t, func(o *authority.Options) {
			o.UserCodeSessionLimit = authority.RateLimit{Max: 3, Window: 15 * time.Minute}
		})
		da := e.authorize()
		b := e.login(alice, alicePW, orgAcme)
		for _, w := range wrong[:3] {
			b.post("/device", url.Values{"user_code": {w}, "device": {devMain}})
		}
		if st, _ := b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devMain}}); st != http.StatusTooManyRequests {
			t.Fatalf("4th attempt in the session: %d", st)
		}
		e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, "approve")
	})
}

func TestLoginThrottle(t *testing.T) {
	tests := []struct {
		name      string
		opts      func(*authority.Options)
		usernames []string // failed attempts
	}{
		{"per IP and user", nil, []string{alice, alice, alice, alice, alice}},
		{"per IP", func(o *authority.Options) { o.LoginIPLimit = authority.RateLimit{Max: 3, Window: 10 * time.Minute} },
			[]string{"bob", "carol", "dave"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*authority.Options)
			if tt.opts != nil {
				mods = append(mods, tt.opts)
			}
			e := newEnv(t, mods...)
			b := e.newBrowser()
			b.get("/login")
			for _, u := range tt.usernames {
				if st, _ := b.post("/login", url.Values{"username": {u}, "password": {"wrong"}}); st != http.StatusUnauthorized {
					t.Fatalf("wrong password: %d", st)
				}
			}
			st, body := b.post("/login", url.Values{"username": {alice}, "password": {alicePW}})
			if st != http.StatusTooManyRequests || !strings.Contains(body, "Too many") {
				t.Fatalf("throttled login: %d", st)
			}
			e.clock.Advance(15 * time.Minute)
			if st, body := b.post("/login", url.Values{"username": {alice}, "password": {alicePW}}); st != http.StatusOK || !strings.Contains(body, `id="org-form"`) {
				t.Fatalf("after the window: %d", st)
			}
		})
	}
}

func TestPages(t *testing.T) {
	e := newEnv(t)
	t.Run("sign-in required and cookie attributes", func(t *testing.T) {
		resp, err := http.Get(e.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request.URL.Path != "/login" {
			t.Errorf("/ ended at %s", resp.Request.URL.Path)
		}
		c := resp.Header.Get("Set-Cookie")
		if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") || strings.Contains(c, "Secure") {
			t.Errorf("cookie %q", c)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("missing %s", h)
			}
		}
	})
	t.Run("user code survives sign-in", func(t *testing.T) {
		b := e.newBrowser()
		b.get("/device?user_code=bcdf-ghjk")
		b.post("/login", url.Values{"username": {alice}, "password": {alicePW}})
		_, body := b.post("/org", url.Values{"org": {orgAcme}})
		if !strings.Contains(body, `value="BCDF-GHJK"`) {
			t.Errorf("device page lacks the pre-filled code:\n%s", body)
		}
	})
	t.Run("organizations and their devices", func(t *testing.T) {
		b := e.login(alice, alicePW, "")
		_, body := b.get("/org")
		if !strings.Contains(body, "Acme Stores") || !strings.Contains(body, "Beta Bakery") {
			t.Errorf("org page:\n%s", body)
		}
		if st, _ := b.post("/org", url.Values{"org": {"someone-else"}}); st != http.StatusBadRequest {
			t.Errorf("foreign org: %d", st)
		}
		_, body = b.post("/org", url.Values{"org": {orgBeta}})
		if !strings.Contains(body, devBeta) || strings.Contains(body, devMain) {
			t.Errorf("beta's device list:\n%s", body)
		}
		da := e.authorize()
		if st, _ := b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devMain}}); st != http.StatusBadRequest {
			t.Errorf("another org's device: %d", st)
		}
	})
	t.Run("confirmation shows the requesting PC", func(t *testing.T) {
		da := e.authorize("device_name", "Till <PC> 7", "install_code", "INST-42\x00")
		b := e.login(alice, alicePW, orgAcme)
		_, body := b.post("/device", url.Values{"user_code": {strings.ToLower(da.str("user_code"))}, "device": {devPerpetual}})
		for _, want := range []string{`<span id="requesting-device-name">Till &lt;PC&gt; 7</span>`, `<span id="requesting-install-code">INST-42</span>`, "Back Office"} {
			if !strings.Contains(body, want) {
				t.Errorf("confirmation page lacks %q:\n%s", want, body)
			}
		}
	})
	t.Run("logout", func(t *testing.T) {
		b := e.login(alice, alicePW, orgAcme)
		if st, body := b.post("/logout", url.Values{}); st != http.StatusOK || !strings.Contains(body, `id="login-form"`) {
			t.Fatalf("logout: %d", st)
		}
		if _, body := b.get("/device"); !strings.Contains(body, `id="login-form"`) {
			t.Error("still signed in after logout")
		}
	})
}

func TestSecureCookieOverTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	srv, err := authority.New(authority.Options{DataDir: t.TempDir(), Issuer: "https://" + ts.Listener.Addr().String(),
		Logger: zerolog.Nop(), Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	ts.Config.Handler = srv.Handler()
	ts.StartTLS()
	resp, err := ts.Client().Get(ts.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
		t.Errorf("cookie %q", c)
	}
}

// TestDeviceListThisPC: the device bound to the install code of the PC
// asking is listed first and marked "this PC" (in every deployment, not
// only the demo), and the confirm page says in words whether the chosen
// device is that PC.
func TestDeviceListThisPC(t *testing.T) {
	e := newEnv(t)
	b := e.login(alice, alicePW, orgAcme)
	firstOption := func(body string) string {
		i := strings.Index(body, `<option value="SRV-`)
		if i < 0 {
			return ""
		}
		return body[i : i+strings.Index(body[i:], "</option>")]
	}

	// This PC (IC-1) is Main Store; choosing Back Office is explained.
	_, body := b.get("/device?install_code=ic-1")
	if got := firstOption(body); !strings.Contains(got, "Main Store (SRV-MAIN) — this PC") {
		t.Errorf("first device %q", got)
	}
	da := e.authorize()
	_, body = b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devPerpetual}})
	if !strings.Contains(body, `id="install-mismatch"`) ||
		!strings.Contains(body, "is registered as Main Store (SRV-MAIN), not as Back Office") {
		t.Errorf("no mismatch explained:\n%s", body)
	}
	_, body = b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devMain}})
	if !strings.Contains(body, `id="install-match"`) || strings.Contains(body, `id="install-mismatch"`) {
		t.Errorf("the matching device is not confirmed:\n%s", body)
	}

	// A new PC and a device not tied to any PC yet: approving ties it.
	pc9 := e.newPC("IC-9", "Till 9")
	da = pc9.authorize()
	_, body = b.post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devPerpetual}})
	if !strings.Contains(body, "Back Office is not tied to a PC yet: approving ties it to the PC asking (install code IC-9)") {
		t.Errorf("unbound device not explained:\n%s", body)
	}
	b.decide(da.str("user_code"), devPerpetual, "approve")
	// Now Back Office is this PC's: first in the list, ahead of Main Store.
	_, body = b.get("/device?install_code=IC-9")
	if got := firstOption(body); !strings.Contains(got, "Back Office (SRV-PERP) — this PC") {
		t.Errorf("first device for IC-9 %q", got)
	}
	if strings.Count(body, "this PC") != 1 {
		t.Errorf("more than one device marked:\n%s", body)
	}
}
