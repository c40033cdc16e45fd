package authority_test

// One test per finding of the adversarial review of the authority facing
// the internet (TestAbuse…), each run against a real authority over HTTP on
// loopback. The races run in parallel: they fail on an authority that
// checks a limit and records the failure afterwards.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (127.0.0.2 and up are loopback on Linux too), as a visitor
// from another address would.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}

// browserFrom is a browser at the loopback address ip.
func (e *env) browserFrom(t *testing.T, ip string) *browser {
	return &browser{e: e, c: clientFrom(t, ip)}
}

// TestAbuseParallelWrongPasswords: 40 wrong passwords for one user from
// one address at once get at most LoginLimit.Max password checks; the rest
// are refused before the hash runs (429 with Retry-After). The failure is
// reserved before argon2 runs: an authority that checks the limit, hashes
// and then records the failure lets all 40 pass the check.
func TestAbuseParallelWrongPasswords(t *testing.T) {
	t.Parallel()
	// A real argon2 cost, so the hashes take long enough for the race.
	e := newEnv(t, func(o *authority.Options) {
		o.Argon2 = authority.Argon2Params{Time: 2, MemoryKiB: 8 * 1024, Threads: 1}
		o.LoginLimit = authority.RateLimit{Max: 5, Window: 15 * time.Minute}
	})
	b := e.newBrowser()
	b.get("/login")
	var checked, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			form := url.Values{"username": {alice}, "password": {fmt.Sprintf("guess %d", i)}, "csrf_token": {b.csrf}}
			resp, err := b.c.PostForm(e.url+"/login", form)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				checked.Add(1)
			case http.StatusTooManyRequests:
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				refused.Add(1)
			default:
				t.Errorf("wrong password answered %d", resp.StatusCode)
			}
		}()
	}
	close(start)
	wg.Wait()
	if max := int32(e.opts.LoginLimit.Max); checked.Load() > max || checked.Load()+refused.Load() != 40 {
		t.Fatalf("%d of 40 parallel wrong passwords were checked, %d refused; want at most %d checked", checked.Load(), refused.Load(), max)
	}
	// The right password from elsewhere still works: the limit is per
	// address and user, and a user's own limit is not used up.
	if st, body := e.browserFrom(t, "127.0.0.9").loginAs(alice, alicePW); st != http.StatusOK || !strings.Contains(body, `id="org-form"`) {
		t.Fatalf("alice from another address: %d", st)
	}
}

// loginAs opens the login page and signs in; it returns the final page.
func (b *browser) loginAs(user, password string) (int, string) {
	b.e.t.Helper()
	b.get("/login")
	return b.post("/login", url.Values{"username": {user}, "password": {password}})
}

// TestAbuseAnonymousSessionsKeepSignedIn: 4,000 anonymous visitors of
// /login, forty times MaxSessions, do not sign anyone out. Pre-login
// sessions have their own pool; on a shared, full pool every new anonymous
// session evicted an arbitrary one, signed-in ones included.
func TestAbuseAnonymousSessionsKeepSignedIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *authority.Options) { o.MaxSessions, o.MaxAnonSessions = 100, 100 })
	signed := e.login(alice, alicePW, orgAcme)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(t, fmt.Sprintf("127.0.1.%d", w+1))
			for range 500 {
				c.Jar, _ = cookiejar.New(nil) // a new visitor each time
				resp, err := c.Get(e.url + "/login")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("anonymous /login: %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st, body := signed.get("/device"); st != http.StatusOK || !strings.Contains(body, `id="device-form"`) {
		t.Fatalf("after 4,000 anonymous visitors the signed-in user is signed out: %d", st)
	}
}

// TestAbuseDeviceAuthorizeFlood: a flood of /device/authorize from one
// address is refused with 429 slow_down and Retry-After once over its
// rate, one client cannot hold more than its live codes, and codes that
// have expired no longer count against the authority's cap, so real
// devices keep getting codes.
func TestAbuseDeviceAuthorizeFlood(t *testing.T) {
	t.Parallel()
	authorize := func(c *http.Client, e *env, key *pc) (int, http.Header) {
		form := url.Values{"client_id": {authority.DefaultClientID}, "install_code": {"FLOOD-1"}}
		req, _ := http.NewRequest(http.MethodPost, e.url+"/device/authorize", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if key != nil {
			req.Header.Set(wire.HeaderDPoP, key.proof(http.MethodPost, "/device/authorize"))
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	t.Run("rate per address", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *authority.Options) {
			o.MaxPendingCodes = 300
			o.DeviceAuthIPRate = authority.RateLimit{Max: 30, Window: time.Minute}
		})
		attacker := clientFrom(t, "127.0.0.2")
		var admitted, limited atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 125 {
					switch st, h := authorize(attacker, e, e.newPC("FLOOD-1", "flood")); {
					case st == http.StatusOK:
						admitted.Add(1)
					case st == http.StatusTooManyRequests && h.Get("Retry-After") != "":
						limited.Add(1)
					default:
						t.Errorf("flood answered %d", st)
						return
					}
				}
			}()
		}
		wg.Wait()
		if a := int(admitted.Load()); a > e.opts.DeviceAuthIPRate.Max || limited.Load() == 0 {
			t.Fatalf("1,000 requests from one address: %d admitted, %d refused; want at most %d admitted", a, limited.Load(), e.opts.DeviceAuthIPRate.Max)
		}
		// A real device elsewhere gets its code.
		if st, _ := authorize(clientFrom(t, "127.0.0.3"), e, e.newPC("REAL-1", "real")); st != http.StatusOK {
			t.Fatalf("a real device after the flood: %d", st)
		}
	})
	t.Run("live codes per client", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *authority.Options) { o.DeviceAuthPerClient, o.DeviceCodeTTL = 5, 10*time.Minute })
		same := e.newPC("FLOOD-2", "one key")
		for i := range e.opts.DeviceAuthPerClient {
			if st, _ := authorize(http.DefaultClient, e, same); st != http.StatusOK {
				t.Fatalf("code %d of one client: %d", i+1, st)
			}
		}
		if st, h := authorize(http.DefaultClient, e, same); st != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
			t.Fatalf("one client over its live codes: %d, Retry-After %q", st, h.Get("Retry-After"))
		}
		e.clock.Advance(e.opts.DeviceCodeTTL)
		if st, _ := authorize(http.DefaultClient, e, same); st != http.StatusOK {
			t.Fatalf("once its codes expired: %d", st)
		}
	})
	t.Run("only live codes count", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *authority.Options) {
			o.MaxPendingCodes, o.DeviceAuthPerIP, o.DeviceCodeTTL = 20, 1000, 10*time.Minute
			o.DeviceAuthIPRate = authority.RateLimit{Max: 1000, Window: time.Minute}
		})
		for i := range 20 {
			if st, _ := authorize(http.DefaultClient, e, e.newPC("FLOOD-3", "flood")); st != http.StatusOK {
				t.Fatalf("code %d: %d", i+1, st)
			}
		}
		if st, _ := authorize(http.DefaultClient, e, e.newPC("FLOOD-3", "flood")); st != http.StatusTooManyRequests {
			t.Fatalf("over the authority's cap: %d", st)
		}
		// The codes expire (they are still remembered for late polls) …
		e.clock.Advance(e.opts.DeviceCodeTTL + time.Second)
		// … and no longer count: a real device gets a code.
		if st, _ := authorize(http.DefaultClient, e, e.newPC("REAL-2", "real")); st != http.StatusOK {
			t.Fatalf("after the flood's codes expired: %d", st)
		}
	})
}

// TestAbusePoolSquatting: knowing a Customer ID and a victim's install code
// (both are shown to people) is not enough to register the install code
// first; the installation holding a license for that install, from the
// customer's organization, registers it. A license from another
// organization for the same install code is not enough either.
func TestAbusePoolSquatting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.srv.Seed(poolSeed()); err != nil {
		t.Fatal(err)
	}
	victimCode := e.pc.installCode // IC-1, devMain's
	squatter := newInstall(victimCode, custAcme)
	e.pool(squatter, wire.PoolOpList, "", "", "").want(t, http.StatusForbidden, wire.CodeInstallUnlicensed)

	// A license of beta's device, approved for a PC presenting the
	// victim's install code, does not open acme's customer to it.
	other := e.newPC(victimCode, "Squatter PC")
	squatter.key = other.key
	da := other.authorize("device_name", other.name)
	e.login(bob, bobPW, orgBeta).decide(da.str("user_code"), devBeta, "approve")
	if r := other.poll(da.str("device_code")); r.status != http.StatusOK {
		t.Fatalf("squatter's own license: %v", r.body)
	}
	e.pool(squatter, wire.PoolOpList, "", "", "").want(t, http.StatusForbidden, wire.CodeInstallUnlicensed)

	// The victim, licensed for devMain in acme, registers and is served.
	e.acquire(devMain)
	victim := install{code: victimCode, customer: custAcme, key: e.pc.key}
	e.pool(victim, wire.PoolOpList, "", "", "").want(t, http.StatusOK, "")
	e.pool(squatter, wire.PoolOpList, "", "", "").want(t, http.StatusConflict, wire.CodeInstallConflict)
}

// TestAbuseCustomerCannotApproveSwitch: a customer's user sees the
// organization's pending license change but may not decide it; the
// vendor's staff may.
func TestAbuseCustomerCannotApproveSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	refresh := e.acquire(devMain).str("refresh_token")
	id := e.lifecycle("/licence/switch", "refresh_token", refresh, "to", "perpetual").str("request_id")

	customer := e.login(carol, carolPW, orgAcme)
	if st, page := customer.get("/switch"); st != http.StatusOK || !strings.Contains(page, id) || strings.Contains(page, `class="approve"`) {
		t.Fatalf("the customer's /switch page: %d, lists the request %v, offers approval %v", st, strings.Contains(page, id), strings.Contains(page, `class="approve"`))
	}
	for _, action := range []string{"approve", "deny"} {
		if st, _ := customer.post("/switch", url.Values{"request_id": {id}, "action": {action}}); st != http.StatusForbidden {
			t.Fatalf("customer %s: %d, want 403", action, st)
		}
	}
	if st := e.switchStatus(id); st.str("status") != "pending" {
		t.Fatalf("a customer decided the switch: %v", st.body)
	}
	for _, page := range []string{"/licenses", "/audit", "/audit.jsonl", "/partner", "/upgrade", "/entitle"} {
		if st, _ := customer.get(page); st != http.StatusForbidden {
			t.Errorf("customer GET %s: %d, want 403", page, st)
		}
	}
	if st, _ := customer.post("/licenses/revoke", url.Values{"licence_id": {"LIC-MAIN"}}); st != http.StatusForbidden {
		t.Errorf("customer revoke: %d", st)
	}
	if st, _ := customer.post("/keys/rotate", url.Values{}); st != http.StatusForbidden {
		t.Errorf("customer key rotation: %d", st)
	}

	vendor := e.login(alice, alicePW, orgBeta) // any organization: staff see them all
	vendor.get("/switch")
	if st, page := vendor.post("/switch", url.Values{"request_id": {id}, "action": {"approve"}}); st != http.StatusOK || !strings.Contains(page, "Approved") {
		t.Fatalf("vendor approval: %d", st)
	}
	if st := e.switchStatus(id); st.str("status") != "approved" {
		t.Fatalf("after the vendor's approval: %v", st.body)
	}
}

// soonDevice is a subscription that renews two days after t0.
const soonDevice = "SRV-SOON"

func seedSoon(t *testing.T, e *env) *pc {
	t.Helper()
	seed := testSeed()
	org := &seed.Organizations[0]
	org.Devices = append(org.Devices, authority.DeviceSeed{ServerID: soonDevice, Name: "Pop-up Shop", InstallCode: "IC-SOON",
		License: &authority.LicenseSeed{ID: "LIC-SOON", Type: wire.Subscription, Customer: "Acme Stores", RenewalDate: t0.Add(48 * time.Hour)}})
	if err := e.srv.Seed(seed); err != nil {
		t.Fatal(err)
	}
	return e.newPC("IC-SOON", "Pop-up PC")
}

// TestAbuseExpiredSubscriptionSwitch: an expired subscription cannot be
// turned into a perpetual license: the request is refused with the reason
// licence_expired, and a request made before the renewal date and decided
// after it is refused at approval, closed as denied.
func TestAbuseExpiredSubscriptionSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := seedSoon(t, e)
	da := p.authorize("device_name", p.name)
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), soonDevice, "approve")
	refresh := p.poll(da.str("device_code")).str("refresh_token")
	switchTo := func(to string) oauthReply {
		return p.postOAuth("/licence/switch", url.Values{"client_id": {authority.DefaultClientID}, "refresh_token": {refresh}, "to": {to}})
	}
	early := switchTo("perpetual")
	if early.status != http.StatusAccepted {
		t.Fatalf("switch while valid: %v", early.body)
	}

	e.clock.Advance(72 * time.Hour) // past the renewal date
	late := switchTo("perpetual")
	if late.status != http.StatusBadRequest || late.str("reason") != string(wire.ReasonLicenseExpired) {
		t.Fatalf("switch of an expired subscription: %d %v", late.status, late.body)
	}
	vendor := e.login(alice, alicePW, orgAcme)
	vendor.get("/switch")
	st, page := vendor.post("/switch", url.Values{"request_id": {early.str("request_id")}, "action": {"approve"}})
	if st != http.StatusConflict || !strings.Contains(page, "expired") {
		t.Fatalf("approval after the renewal date: %d", st)
	}
	if s := p.get("/licence/switch/" + early.str("request_id")); s.str("status") != "denied" {
		t.Fatalf("the refused request: %v", s.body)
	}
}

// TestAbuseSwitchKeepsRenewalDate: subscription → perpetual → subscription
// gives back the renewal date the subscription had, not a new year from
// the approval.
func TestAbuseSwitchKeepsRenewalDate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	refresh := e.acquire(devMain).str("refresh_token")
	renewal := t0.AddDate(1, 0, 0).Unix() // devMain's
	decide := func(to string) {
		t.Helper()
		r := e.lifecycle("/licence/switch", "refresh_token", refresh, "to", to)
		if err := e.srv.DecideSwitch(r.str("request_id"), "", true, "vendor"); err != nil {
			t.Fatalf("switch to %s: %v", to, err)
		}
		next := e.refresh(refresh)
		refresh = next.str("refresh_token")
		if next.status != http.StatusOK {
			t.Fatalf("refresh after switching to %s: %v", to, next.body)
		}
		claims := tokenClaims(t, next.str("licence_token"))
		if claims.Type != wire.LicenseType(to) {
			t.Fatalf("after switching to %s the token says %s", to, claims.Type)
		}
		if to == string(wire.Subscription) && claims.RenewalDate != renewal {
			t.Fatalf("renewal date after switching back: %s, want %s", time.Unix(claims.RenewalDate, 0).UTC(), time.Unix(renewal, 0).UTC())
		}
	}
	decide("perpetual")
	e.clock.Advance(60 * 24 * time.Hour)
	decide("subscription")
}

// tokenClaims reads a token's claims without verifying it (the other tests
// verify; here only the dates matter).
func tokenClaims(t *testing.T, token string) wire.Claims {
	t.Helper()
	parts := strings.Split(token, ".")
	var c wire.Claims
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAbuseStalePoolEnvelope: an envelope issued in 2001, or ten minutes
// and more ahead, is refused (stale_request); the same signed list request
// sent twice is refused the second time (replayed), while a repeated
// activation is answered as before (its request id makes it idempotent).
func TestAbuseStalePoolEnvelope(t *testing.T) {
	t.Parallel()
	e := newPoolEnv(t)
	in := newInstall("STALE-1", custAcme)
	at := func(issued time.Time, op, license, requestID string) []byte {
		env, err := wire.SignPoolRequest(in.key, wire.PoolRequest{Op: op, CustomerID: in.customer, InstallCode: in.code,
			LicenseID: license, RequestID: requestID, IssuedAt: issued})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	for _, issued := range []time.Time{
		time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC),
		t0.Add(-wire.MaxRequestAge - time.Second),
		t0.Add(wire.MaxRequestAge + time.Second),
	} {
		r := e.postPool("/pool/list", at(issued, wire.PoolOpList, "", ""), in.key).want(t, http.StatusBadRequest, wire.CodeInvalidRequest)
		if r.body["reason"] != string(wire.ReasonStaleRequest) {
			t.Fatalf("issued %s: %v", issued, r.body)
		}
	}
	list := at(t0.Add(-time.Minute), wire.PoolOpList, "", "")
	e.postPool("/pool/list", list, in.key).want(t, http.StatusOK, "")
	if r := e.postPool("/pool/list", list, in.key).want(t, http.StatusBadRequest, wire.CodeInvalidRequest); r.body["reason"] != string(wire.ReasonReplayed) {
		t.Fatalf("replayed list: %v", r.body)
	}
	activate := at(t0, wire.PoolOpActivate, "CAP-8", "req-1")
	first := e.postPool("/pool/activate", activate, in.key).want(t, http.StatusOK, "")
	if again := e.postPool("/pool/activate", activate, in.key).want(t, http.StatusOK, ""); again.raw != first.raw {
		t.Fatalf("repeated activation: %s, first %s", again.raw, first.raw)
	}
}

// TestAbuseEmbeddedServerTimeouts: the server every authority runs behind,
// standalone or embedded in the app's demo, has read, write, header and
// idle timeouts and a header bound; and a client that sends its headers
// and then stalls its body is cut off by the read timeout, not held.
func TestAbuseEmbeddedServerTimeouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hs := e.srv.HTTPServer("127.0.0.1:0")
	if hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 || hs.Handler == nil {
		t.Fatalf("server configuration: header %s, read %s, write %s, idle %s, max header %d",
			hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
	if hs.ReadTimeout > time.Minute || hs.WriteTimeout > time.Minute || hs.ReadHeaderTimeout > hs.ReadTimeout {
		t.Fatalf("timeouts too long to matter: %+v", hs)
	}
	// The same configuration with a short read timeout, to watch it act.
	hs.ReadTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(e.srv.Listener(ln)) }()
	t.Cleanup(func() { _ = hs.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nclient_id=")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server held a stalled request for 10 s")
			}
			return // closed by the server: cut off
		}
	}
}

// TestAbuseConnectionsPerAddress: one address holding its bound of open
// connections (Options.MaxConnsPerIP, here 8) gets its next one closed
// unanswered — connections that have sent nothing yet count too — and is
// served again once it closes one of them.
func TestAbuseConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	const bound = 8
	e := newEnv(t, func(o *authority.Options) { o.MaxConnsPerIP = bound })
	hs := e.srv.HTTPServer("127.0.0.1:0")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(e.srv.Listener(ln)) }()
	t.Cleanup(func() { _ = hs.Close() })
	health := authority.GetHealth
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := range bound + 1 {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		if i%2 == 0 && i < bound {
			continue // opened, nothing sent yet
		}
		err = health(conn)
		if i < bound && err != nil {
			t.Fatalf("connection %d of one address refused: %v", i+1, err)
		}
		if i == bound && err == nil {
			t.Fatalf("connection %d of one address answered; the bound is %d", i+1, bound)
		}
	}
	if err := health(held[0]); err != nil {
		t.Fatalf("a connection that waited within the bound: %v", err)
	}
	held[0].Close()
	held = held[1:]
	// The server counts the closed one as closed once its goroutine sees
	// it; a new connection is answered soon after.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		err = health(conn)
		conn.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a new connection after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
