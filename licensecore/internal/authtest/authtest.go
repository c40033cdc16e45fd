package authtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// The seeded organization, its user and its device.
const (
	Org      = "org1"
	User     = "alice"
	Password = "pw-alice"
	ServerID = "POS-T1"
)

// Authority is the reference authority behind an httptest server.
type Authority struct {
	*authority.Server
	URL string
	ts  *httptest.Server
}

// Start runs an authority issuing tokens for lifetime, on now (nil:
// time.Now); the test's cleanup stops it.
func Start(tb testing.TB, lifetime time.Duration, now func() time.Time) *Authority {
	tb.Helper()
	a := &Authority{}
	a.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.Handler().ServeHTTP(w, r)
	}))
	tb.Cleanup(a.ts.Close)
	a.URL = a.ts.URL
	srv, err := authority.New(authority.Options{
		DataDir: tb.TempDir(), Issuer: a.URL, Logger: zerolog.Nop(),
		TokenLifetime: lifetime, PollInterval: time.Second, Now: now,
		Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	a.Server = srv
	renewal := time.Now().AddDate(0, 3, 0).UTC().Truncate(time.Second)
	err = srv.Seed(authority.Seed{Organizations: []authority.OrganizationSeed{{
		ID: Org, Name: "Test Stores",
		Users: []authority.UserSeed{{Username: User, Password: Password}},
		Devices: []authority.DeviceSeed{{
			ServerID: ServerID, Name: "Till server", HubServerName: "hub-1", HubServerURL: "https://hub-1.example.com",
			Features: []string{"xms"},
			License: &authority.LicenseSeed{ID: "LIC-T1", Type: wire.Subscription, Customer: "Test Stores",
				Capacity: 3, RenewalDate: renewal, TransactionID: "TXN-T1"},
		}},
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// Approve signs in on the authority's pages as User, chooses Org and
// approves userCode for ServerID, as a person at a browser would.
func (a *Authority) Approve(userCode string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	csrf := ""
	send := func(method, path string, form url.Values, want string) error {
		var body io.Reader
		if form != nil {
			form.Set("csrf_token", csrf)
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, a.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := csrfField.FindSubmatch(page); m != nil {
			csrf = string(m[1])
		}
		if !strings.Contains(string(page), want) {
			return fmt.Errorf("%s %s: page lacks %s (status %d)", method, path, want, resp.StatusCode)
		}
		return nil
	}
	device := url.Values{"device": {ServerID}, "user_code": {userCode}}
	for _, step := range []struct {
		method, path string
		form         url.Values
		want         string
	}{
		{http.MethodGet, "/login", nil, `id="login-form"`},
		{http.MethodPost, "/login", url.Values{"username": {User}, "password": {Password}}, `id="org-form"`},
		{http.MethodPost, "/org", url.Values{"org": {Org}}, `id="device-form"`},
		{http.MethodPost, "/device", device, `id="confirm-form"`},
		{http.MethodPost, "/device/confirm", url.Values{"device": {ServerID}, "user_code": {userCode}, "action": {"approve"}}, `id="success"`},
	} {
		if err := send(step.method, step.path, step.form, step.want); err != nil {
			return err
		}
	}
	return nil
}
