package authority_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

const (
	custAcme = "6f1c1e4a-2b7d-4c1e-9a43-0d6e2f1b5a77"
	custBeta = "0b9c2d1e-8f7a-4e6b-a1c2-3d4e5f607182"
)

func poolSeed() authority.Seed {
	maint := time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)
	return authority.Seed{Organizations: []authority.OrganizationSeed{
		{ID: orgAcme, Name: "Acme Stores", Customers: []authority.CustomerSeed{{ID: custAcme, Name: "Acme Retail", Pool: []authority.PoolLicenseSeed{
			{ID: "CAP-8", Kind: wire.PoolCapacity, Devices: 8},
			{ID: "CAP-4", Kind: wire.PoolCapacity, Devices: 4},
			{ID: "MNT-27", Kind: wire.PoolMaintenance, MaintenanceUntil: maint},
		}}}},
		{ID: orgBeta, Name: "Beta Bakery", Customers: []authority.CustomerSeed{{ID: custBeta, Name: "Beta Shops"}}},
	}}
}

// newPoolEnv is an authority with poolSeed's customers. Its pool
// registers install codes on first use: these tests are about the pool
// protocol; the license an install needs to register is TestAbusePool….
func newPoolEnv(t *testing.T) *env {
	e := newEnv(t, func(o *authority.Options) { o.PoolTrustOnFirstUse = true })
	if err := e.srv.Seed(poolSeed()); err != nil {
		t.Fatal(err)
	}
	return e
}

// install is an installation speaking the pool protocol by hand.
type install struct {
	code, customer string
	key            ed25519.PrivateKey
}

func newInstall(code, customer string) install {
	_, key, _ := ed25519.GenerateKey(nil)
	return install{code: code, customer: customer, key: key}
}

// signedAt is the issued_at of an envelope made now: the test clock plus a
// nanosecond more each time, as a real clock would differ, so that two
// requests are never the same signed bytes (a replay).
func (e *env) signedAt() time.Time {
	return e.clock.Now().Add(time.Duration(envelopeSeq.Add(1)))
}

var envelopeSeq atomic.Int64

type poolReply struct {
	status int
	body   map[string]any
	raw    string
}

func (e *env) pool(in install, op, license, activation, requestID string) poolReply {
	e.t.Helper()
	env, err := wire.SignPoolRequest(in.key, wire.PoolRequest{
		Op: op, CustomerID: in.customer, InstallCode: in.code, ServerName: "Till " + in.code,
		LicenseID: license, ActivationID: activation, RequestID: requestID, IssuedAt: e.signedAt(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.postPool("/pool/"+op, env, in.key)
}

// postPool posts a pool envelope with a DPoP proof made with key.
func (e *env) postPool(path string, body []byte, key ed25519.PrivateKey) poolReply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wire.HeaderDPoP, dpopProof(e.t, key, http.MethodPost, e.url+path, e.clock.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	r := poolReply{status: resp.StatusCode, raw: buf.String()}
	_ = json.Unmarshal(buf.Bytes(), &r.body)
	return r
}

func (r poolReply) want(t *testing.T, status int, code wire.ErrorCode) poolReply {
	t.Helper()
	if r.status != status || (code != "" && r.body["error"] != string(code)) {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	return r
}

func (r poolReply) activationID() string {
	id, _ := r.body["activation_id"].(string)
	return id
}

func (e *env) poolState(t *testing.T, customer string) map[string]authority.PoolEntry {
	t.Helper()
	entries, err := e.srv.Pool(customer)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]authority.PoolEntry{}
	for _, p := range entries {
		m[p.ID] = p
	}
	return m
}

func TestPoolProtocol(t *testing.T) {
	e := newPoolEnv(t)
	a, b := newInstall("AAAA-1111", custAcme), newInstall("BBBB-2222", custAcme)

	list := e.pool(a, wire.PoolOpList, "", "", "").want(t, 200, "")
	if n := len(list.body["licences"].([]any)); n != 3 {
		t.Fatalf("pool lists %d licenses: %s", n, list.raw)
	}
	first := e.pool(a, wire.PoolOpActivate, "CAP-8", "", "req-1").want(t, 200, "")
	act := first.activationID()
	if act == "" || !strings.Contains(first.raw, `"devices":8`) {
		t.Fatalf("activation: %s", first.raw)
	}
	// A repeat of the same request gets the same answer and changes nothing.
	if again := e.pool(a, wire.PoolOpActivate, "CAP-8", "", "req-1").want(t, 200, ""); again.activationID() != act {
		t.Fatalf("repeated activation: %s", again.raw)
	}
	e.pool(a, wire.PoolOpActivate, "CAP-4", "", "req-1").want(t, 400, wire.CodeInvalidRequest)
	e.pool(b, wire.PoolOpActivate, "CAP-8", "", "req-1").want(t, 409, wire.CodeNotAvailable)
	e.pool(a, wire.PoolOpActivate, "CAP-8", "", "req-2").want(t, 409, wire.CodeNotAvailable)
	e.pool(a, wire.PoolOpActivate, "NOPE", "", "req-3").want(t, 404, wire.CodeUnknownLicense)
	if list := e.pool(b, wire.PoolOpList, "", "", "").want(t, 200, ""); strings.Contains(list.raw, "CAP-8") {
		t.Fatalf("an active license is listed: %s", list.raw)
	}
	if held := e.pool(a, wire.PoolOpHeld, "", "", "").want(t, 200, ""); !strings.Contains(held.raw, act) {
		t.Fatalf("held: %s", held.raw)
	}
	if held := e.pool(b, wire.PoolOpHeld, "", "", "").want(t, 200, ""); strings.Contains(held.raw, "CAP-8") {
		t.Fatalf("b holds a's license: %s", held.raw)
	}

	// Only the holder, with the key and activation of the activation, gets
	// the license credited back.
	forger := newInstall(a.code, custAcme)
	e.pool(forger, wire.PoolOpTransfer, "CAP-8", act, "t-1").want(t, 409, wire.CodeInstallConflict)
	e.pool(b, wire.PoolOpTransfer, "CAP-8", act, "t-1").want(t, 409, wire.CodeNotHeld)
	e.pool(a, wire.PoolOpTransfer, "CAP-8", "other-activation", "t-1").want(t, 409, wire.CodeNotHeld)
	if st := e.poolState(t, custAcme)["CAP-8"]; st.State != authority.PoolActive || st.InstallCode != a.code {
		t.Fatalf("refused receipts changed the pool: %+v", st)
	}
	e.clock.Advance(time.Hour)
	done := e.pool(a, wire.PoolOpTransfer, "CAP-8", act, "t-2").want(t, 200, "")
	if again := e.pool(a, wire.PoolOpTransfer, "CAP-8", act, "t-2").want(t, 200, ""); again.raw != done.raw {
		t.Fatalf("repeated receipt: %s vs %s", again.raw, done.raw)
	}
	st := e.poolState(t, custAcme)["CAP-8"]
	if st.State != authority.PoolAvailable || st.InstallCode != "" || !st.TransferDate.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after transfer: %+v", st)
	}
	// The old activation is over: its repeat must not claim it again.
	e.pool(a, wire.PoolOpActivate, "CAP-8", "", "req-1").want(t, 409, wire.CodeSuperseded)
	e.pool(a, wire.PoolOpTransfer, "CAP-8", act, "t-3").want(t, 409, wire.CodeNotHeld)
	b2 := e.pool(b, wire.PoolOpActivate, "CAP-8", "", "b-1").want(t, 200, "")
	if b2.activationID() == act {
		t.Fatal("a new activation reused the old id")
	}

	// Authentication and envelope failures.
	e.pool(newInstall("CCCC", "11111111-2222-4333-8444-555555555555"), wire.PoolOpList, "", "", "").want(t, 404, wire.CodeUnknownCustomer)
	sig, _ := wire.SignPoolRequest(a.key, wire.PoolRequest{Op: wire.PoolOpHeld, CustomerID: custAcme, InstallCode: a.code})
	e.postPool("/pool/list", sig, a.key).want(t, 400, wire.CodeInvalidRequest)
	tampered := bytes.Replace(sig, []byte(`"signature":"`), []byte(`"signature":"AA`), 1)
	e.postPool("/pool/held", tampered, a.key).want(t, 400, wire.CodeInvalidRequest)
	e.postPool("/pool/held", []byte("not json"), a.key).want(t, 400, wire.CodeInvalidRequest)
	e.postPool("/pool/held", bytes.Repeat([]byte("x"), wire.MaxPoolEnvelope+10), a.key).want(t, 413, wire.CodeInvalidRequest)

	// An install moves to another customer only once it holds nothing.
	e.pool(install{code: b.code, customer: custBeta, key: b.key}, wire.PoolOpList, "", "", "").want(t, 409, wire.CodeInstallBusy)
	e.pool(install{code: a.code, customer: custBeta, key: a.key}, wire.PoolOpList, "", "", "").want(t, 200, "")
	e.pool(a, wire.PoolOpActivate, "CAP-4", "", "moved-1").want(t, 200, "") // back: it held nothing of beta
	e.pool(install{code: a.code, customer: custBeta, key: a.key}, wire.PoolOpList, "", "", "").want(t, 409, wire.CodeInstallBusy)

	// Restart: the answers are durable.
	e.restart()
	if again := e.pool(b, wire.PoolOpActivate, "CAP-8", "", "b-1").want(t, 200, ""); again.activationID() != b2.activationID() {
		t.Fatalf("after restart: %s", again.raw)
	}
}

func TestCustomerCheck(t *testing.T) {
	e := newPoolEnv(t)
	for _, tc := range []struct {
		id     string
		status int
		want   string
	}{
		{custAcme, 200, `"name":"Acme Retail"`},
		{strings.ToUpper(custAcme), 200, `"customer_id":"` + custAcme + `"`},
		{"11111111-2222-4333-8444-555555555555", 404, string(wire.CodeUnknownCustomer)},
		{"not-a-uuid", 400, string(wire.CodeInvalidRequest)},
	} {
		resp, err := http.Get(e.url + "/customers/" + url.PathEscape(tc.id))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(buf.String(), tc.want) {
			t.Errorf("GET /customers/%s: %d %s", tc.id, resp.StatusCode, buf.String())
		}
	}
}

// TestPoolRace: many installations race for one license, round after
// round; exactly one wins each time.
func TestPoolRace(t *testing.T) {
	e := newPoolEnv(t)
	const racers, rounds = 6, 50
	ins := make([]install, racers)
	for i := range ins {
		ins[i] = newInstall(fmt.Sprintf("RACE-%d", i), custAcme)
	}
	for round := range rounds {
		var wins atomic.Int32
		var winner atomic.Pointer[install]
		var act atomic.Value
		var wg sync.WaitGroup
		for i := range ins {
			wg.Go(func() {
				r := e.pool(ins[i], wire.PoolOpActivate, "CAP-4", "", fmt.Sprintf("r%d", round))
				switch {
				case r.status == 200:
					wins.Add(1)
					winner.Store(&ins[i])
					act.Store(r.activationID())
				case r.status != 409 || r.body["error"] != string(wire.CodeNotAvailable):
					t.Errorf("round %d: %d %s", round, r.status, r.raw)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d winners", round, wins.Load())
		}
		w := *winner.Load()
		if st := e.poolState(t, custAcme)["CAP-4"]; st.InstallCode != w.code || st.ActivationID != act.Load() {
			t.Fatalf("round %d: pool says %+v", round, st)
		}
		e.pool(w, wire.PoolOpTransfer, "CAP-4", act.Load().(string), fmt.Sprintf("t%d", round)).want(t, 200, "")
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPartnerPages(t *testing.T) {
	e := newPoolEnv(t)
	if st, body := e.newBrowser().get("/partner"); st != 200 || !strings.Contains(body, `id="login-form"`) {
		t.Fatalf("anonymous /partner: %d", st)
	}
	b := e.login(alice, alicePW, orgAcme)
	st, body := b.get("/partner")
	if st != 200 || !strings.Contains(body, custAcme) || strings.Contains(body, custBeta) || !strings.Contains(body, `id="nav-partner"`) {
		t.Fatalf("partner page: %d %s", st, body)
	}
	if st, _ := b.post("/partner/customers", url.Values{"name": {"x"}, "csrf_token": {"forged"}}); st != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d", st)
	}
	if st, body := b.post("/partner/customers", url.Values{"name": {"  "}}); st != 400 || !strings.Contains(body, "Enter the customer") {
		t.Fatalf("empty name: %d", st)
	}
	st, body = b.post("/partner/customers", url.Values{"name": {"Corner <Shop>"}})
	m := regexp.MustCompile(`id="new-customer-id" class="uuid">([^<]+)<`).FindStringSubmatch(body)
	if st != 200 || m == nil || !uuidV4.MatchString(m[1]) || !strings.Contains(body, "Corner &lt;Shop&gt;") {
		t.Fatalf("create customer: %d %s", st, body)
	}
	resp, err := http.Get(e.url + "/customers/" + m[1])
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("new customer unknown to the API: %v %v", err, resp.Status)
	}
	resp.Body.Close()

	in := newInstall("PAGE-1", custAcme)
	e.pool(in, wire.PoolOpActivate, "MNT-27", "", "p1").want(t, 200, "")
	st, body = b.get("/partner/customers/" + custAcme)
	if st != 200 || !strings.Contains(body, `id="pool-MNT-27" data-state="active"`) || !strings.Contains(body, "PAGE-1") ||
		!strings.Contains(body, "Maintenance until 31 Dec 2027") || !strings.Contains(body, `id="pool-CAP-8" data-state="available"`) {
		t.Fatalf("pool page: %d %s", st, body)
	}
	if st, _ := b.get("/partner/customers/" + custBeta); st != 404 {
		t.Fatalf("another organization's customer: %d", st)
	}
}

func TestPoolSeed(t *testing.T) {
	e := newPoolEnv(t)
	in := newInstall("SEED-1", custAcme)
	act := e.pool(in, wire.PoolOpActivate, "CAP-8", "", "s1").want(t, 200, "").activationID()
	// Seeding again keeps the activation and updates the grant.
	seed := poolSeed()
	seed.Organizations[0].Customers[0].Pool[0].Devices = 10
	if err := e.srv.Seed(seed); err != nil {
		t.Fatal(err)
	}
	if st := e.poolState(t, custAcme)["CAP-8"]; st.ActivationID != act || st.Devices != 10 {
		t.Fatalf("re-seed: %+v", st)
	}
	for name, mod := range map[string]func(*authority.Seed){
		"bad uuid":       func(s *authority.Seed) { s.Organizations[0].Customers[0].ID = "acme" },
		"no devices":     func(s *authority.Seed) { s.Organizations[0].Customers[0].Pool[0].Devices = 0 },
		"no end date":    func(s *authority.Seed) { s.Organizations[0].Customers[0].Pool[2].MaintenanceUntil = time.Time{} },
		"twice":          func(s *authority.Seed) { s.Organizations[0].Customers[0].Pool[1].ID = "CAP-8" },
		"unknown kind":   func(s *authority.Seed) { s.Organizations[0].Customers[0].Pool[0].Kind = "seats" },
		"customer twice": func(s *authority.Seed) { s.Organizations[1].Customers[0].ID = custAcme },
	} {
		s := poolSeed()
		mod(&s)
		if err := e.srv.Seed(s); !errors.Is(err, authority.ErrInvalidSeed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := e.srv.Pool("11111111-2222-4333-8444-555555555555"); !errors.Is(err, authority.ErrUnknownCustomer) {
		t.Fatalf("unknown customer: %v", err)
	}
	id, err := e.srv.CreateCustomer(orgBeta, "New Shop")
	if err != nil || !uuidV4.MatchString(id) {
		t.Fatalf("CreateCustomer: %q %v", id, err)
	}
	if _, err := e.srv.CreateCustomer("no-such-org", "x"); err == nil {
		t.Fatal("customer of an unknown organization")
	}
}

func TestDemoSeedHasAPool(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.Seed(authority.DemoSeed()); err != nil {
		t.Fatal(err)
	}
	entries, err := e.srv.Pool(authority.DemoCustomerID)
	if err != nil || len(entries) != 5 {
		t.Fatalf("demo pool: %+v %v", entries, err)
	}
	if id, err := wire.ParseCustomerID(authority.DemoCustomerID); err != nil || id != authority.DemoCustomerID {
		t.Fatalf("demo customer id: %v", err)
	}
}
