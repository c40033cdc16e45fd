package authority_test

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

const chromiumPath = "/usr/bin/chromium"

// TestEndToEndWithBrowser is the whole acquisition as the desktop app and a
// person do it: an x/oauth2 device-flow client on one side and headless
// Chromium driving the real pages on the other, against the real server on a
// loopback port. The token must satisfy licensecore's verifier with the
// JWKS fetched over HTTP, and refreshing must rotate the refresh token.
func TestEndToEndWithBrowser(t *testing.T) {
	if runtime.GOOS == "windows" {
		// The Windows lane runs this binary under wine, where the Linux
		// chromium cannot be started.
		t.Skip("drives the Linux chromium, which a Windows test binary cannot start")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s is not installed (apt-get install chromium): %v", chromiumPath, err)
	}
	e := newEnv(t, func(o *authority.Options) {
		o.Now = time.Now // x/oauth2 polls on the wall clock
		o.PollInterval = time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// x/oauth2 sends every request through this client: each carries a
	// DPoP proof by the PC's key.
	thisPC := e.newPC("IC-E2E-7", "E2E Till PC")
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: &dpopTransport{key: thisPC.key, now: time.Now, base: http.DefaultTransport}})

	cfg := &oauth2.Config{
		ClientID: authority.DefaultClientID,
		// AuthStyleAutoDetect on purpose: the server must cope with the
		// probe (HTTP Basic first) without answering slow_down.
		Endpoint: oauth2.Endpoint{DeviceAuthURL: e.url + "/device/authorize", TokenURL: e.url + "/token"},
	}
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("device_name", "E2E Till PC"), oauth2.SetAuthURLParam("install_code", "IC-E2E-7"))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(ctx, da)
		polled <- result{tok, err}
	}()

	personApproves(ctx, t, da)

	var res result
	select {
	case res = <-polled:
	case <-ctx.Done():
		t.Fatal("the client never received its token")
	}
	if res.err != nil {
		t.Fatalf("DeviceAccessToken: %v", res.err)
	}
	license, _ := res.tok.Extra(wire.TokenResponseLicenseField).(string)
	if license == "" || license != res.tok.AccessToken || res.tok.RefreshToken == "" {
		t.Fatalf("token response: license %q, refresh %q", license, res.tok.RefreshToken)
	}

	e.clock.Advance(time.Since(e.clock.Now())) // the verifier's clock to the wall clock
	claims, err := e.verifier().Verify(license)
	if err != nil {
		t.Fatalf("licensecore rejects the token: %v", err)
	}
	if claims.Subject != devPerpetual || claims.LicenseID != "LIC-PERP" || claims.DeviceName != "Back Office" {
		t.Errorf("claims %+v", claims)
	}
	if claims.Confirmation == nil || claims.Confirmation.JKT != thisPC.jkt() {
		t.Errorf("the token is not bound to the PC's key: cnf %+v", claims.Confirmation)
	}

	// Refresh through x/oauth2's token source: a new license token and a
	// rotated refresh token; the old refresh token is then spent.
	stale := &oauth2.Token{RefreshToken: res.tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	fresh, err := cfg.TokenSource(ctx, stale).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.RefreshToken == res.tok.RefreshToken || fresh.AccessToken == "" {
		t.Fatal("refresh did not rotate")
	}
	// The answer may have been lost: within the grace window the same PC
	// gets the same pair again.
	if again, err := cfg.TokenSource(ctx, stale).Token(); err != nil || again.RefreshToken != fresh.RefreshToken {
		t.Errorf("replay within the grace window: %v", err)
	}
	// Another PC (another DPoP key) with a copy of the old refresh token
	// gets nothing.
	thief := e.newPC("IC-THIEF", "Thief")
	thiefCtx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: &dpopTransport{key: thief.key, now: time.Now, base: http.DefaultTransport}})
	if _, err := cfg.TokenSource(thiefCtx, stale).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("reusing the old refresh token: %v", err)
	}
}

// personApproves opens verification_uri_complete in headless Chromium, signs
// in, chooses the organization and the device, types the user code and
// confirms, using the element ids documented in the package comment.
func personApproves(ctx context.Context, t *testing.T, da *oauth2.DeviceAuthResponse) {
	t.Helper()
	profile, err := os.MkdirTemp("", "authority-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may still write for a moment after it exits.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
	)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelTab()

	// submit clicks a button that posts a form and waits for the next page.
	submit := func(id string) {
		t.Helper()
		if _, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID(id))); err != nil {
			t.Fatalf("click #%s: %v", id, err)
		}
	}
	must := func(step string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	must("open verification_uri_complete", chromedp.Do(tab, chromedp.Navigate(da.VerificationURIComplete)))
	must("sign in", chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), alice),
		chromedp.SendKeys(chromedp.ID("password"), alicePW)))
	submit("login")

	must("choose organization", chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.ID("org")),
		chromedp.SetValue(chromedp.ID("org"), orgAcme)))
	submit("choose-org")

	// read waits for the element and returns its text or value.
	read := func(id string, get func(chromedp.ID, ...chromedp.QueryOption) chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(tab, get(chromedp.ID(id)))
		must("read #"+id, err)
		return v
	}
	prefilled := read("user_code", chromedp.Value[chromedp.ID])
	if prefilled != da.UserCode {
		t.Errorf("user code field pre-filled with %q, want %q", prefilled, da.UserCode)
	}
	// Type the code as a person might: lower case, with a space.
	typed := strings.ToLower(strings.Replace(da.UserCode, "-", " ", 1))
	must("choose device and type code", chromedp.Do(tab,
		chromedp.SetValue(chromedp.ID("device"), devPerpetual),
		chromedp.Clear(chromedp.ID("user_code")),
		chromedp.SendKeys(chromedp.ID("user_code"), typed)))
	submit("authorize")

	asking := read("requesting-device-name", chromedp.Text[chromedp.ID])
	code := read("requesting-install-code", chromedp.Text[chromedp.ID])
	if asking != "E2E Till PC" || code != "IC-E2E-7" {
		t.Errorf("confirmation shows %q / %q", asking, code)
	}
	submit("approve")

	must("success page", chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("success"))))
}
