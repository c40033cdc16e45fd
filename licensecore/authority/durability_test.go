package authority_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"licensedesk/licensecore/authority"
)

// TestRestartDurability restarts the authority between every step of the
// flow: nothing issued or pending may be lost, and nothing spent may come
// back.
func TestRestartDurability(t *testing.T) {
	e := newEnv(t)
	da := e.authorize("device_name", "Till PC")
	e.restart() // pending authorization survives
	wantError(t, e.poll(da.str("device_code")), 400, "authorization_pending")
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, "approve")
	e.restart() // approval survives
	tok := e.poll(da.str("device_code"))
	if tok.status != http.StatusOK {
		t.Fatalf("token after restart: %d %v", tok.status, tok.body)
	}
	e.restart() // redemption survives: still single use
	wantError(t, e.poll(da.str("device_code")), 400, "invalid_grant")
	if _, err := e.verifier().Verify(tok.str("access_token")); err != nil {
		t.Fatalf("signing key lost across restart: %v", err)
	}
	next := e.refresh(tok.str("refresh_token")) // refresh token survives
	if next.status != http.StatusOK {
		t.Fatalf("refresh after restart: %v", next.body)
	}
	e.restart() // rotation survives: the spent token gets the same answer
	// within the grace window, and is refused once the new one was used
	if again := e.refresh(tok.str("refresh_token")); again.str("refresh_token") != next.str("refresh_token") {
		t.Fatalf("replay within the grace window after restart: %v", again.body)
	}
	e.clock.Advance(11 * time.Minute)
	if r := e.refresh(next.str("refresh_token")); r.status != http.StatusOK {
		t.Fatalf("the new token after restart: %v", r.body)
	}
	e.restart()
	wantError(t, e.refresh(tok.str("refresh_token")), 400, "invalid_grant")

	denied := e.authorize()
	e.login(alice, alicePW, orgAcme).decide(denied.str("user_code"), devMain, "deny")
	e.restart()
	wantError(t, e.poll(denied.str("device_code")), 400, "access_denied")
}

func TestClosed(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"RotateKey": e.srv.RotateKey(), "RevokeLicense": e.srv.RevokeLicense("LIC-MAIN"), "Seed": e.srv.Seed(authority.DemoSeed()),
	} {
		if !errors.Is(err, authority.ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	resp, err := http.Get(e.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz after Close: %d", resp.StatusCode)
	}
	if again, err := authority.New(e.opts); err != nil {
		t.Errorf("reopen after Close: %v", err)
	} else if err := again.Close(); err != nil {
		t.Errorf("close after the reopen: %v", err)
	}
}

func TestSecondProcessRefused(t *testing.T) {
	e := newEnv(t)
	if _, err := authority.New(e.opts); !errors.Is(err, authority.ErrAlreadyRunning) {
		t.Fatalf("second authority on one data dir: %v", err)
	}
}

// TestRestartKeepsNewCodes starts many authorizations, decides one of them
// at once and restarts right away: a new device code is stored after its
// answer, in a group with others, so the restart must write the codes
// still queued, and the decision must not be overwritten by the older,
// pending state of its own code.
func TestRestartKeepsNewCodes(t *testing.T) {
	e := newEnv(t, func(o *authority.Options) {
		o.DeviceAuthIPRate = authority.RateLimit{Max: 100, Window: time.Minute}
		o.DeviceAuthPerIP = 100
	})
	var pcs []*pc
	var codes []oauthReply
	for i := range 59 {
		p := e.newPC(fmt.Sprintf("IC-%d", i+100), "Till PC")
		pcs, codes = append(pcs, p), append(codes, p.authorize())
	}
	pcs, codes = append(pcs, e.pc), append(codes, e.authorize()) // the PC devMain is bound to
	e.login(alice, alicePW, orgAcme).decide(codes[59].str("user_code"), devMain, "approve")
	e.restart()
	for i, p := range pcs[:59] {
		wantError(t, p.poll(codes[i].str("device_code")), 400, "authorization_pending")
	}
	if tok := pcs[59].poll(codes[59].str("device_code")); tok.status != http.StatusOK {
		t.Fatalf("the code approved before the restart: %d %v", tok.status, tok.body)
	}
}
