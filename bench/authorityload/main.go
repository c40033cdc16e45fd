// Command authorityload is a load benchmark of the reference authority: N
// simulated POS servers each start a device authorization and then poll
// /token at their interval (honouring slow_down), while a few "people"
// approve a share of them through the HTML pages, so that the run covers
// pending polls, approvals and token issuance. Each device has its own
// Ed25519 key and sends a DPoP proof with every call, and presents the
// install code of the device the approvals license. It prints requests/s,
// p50/p99 latency per operation and the error count.
//
//	authorityload -url http://127.0.0.1:8080 -n 10000 -duration 30s
//
// Without -url it starts an authority in-process on loopback (demo seed,
// 1 s interval). Loopback only: it refuses any other host.
//
// Each device connects from its own loopback source address, -per-addr
// devices to an address (127.1.x.y), as stores behind their own routers
// would; the authority limits /device/authorize per address. With
// -attackers N an attacker floods /device/authorize and /login from N
// more addresses (127.0.0.2 onwards) at -attack-rps in all (attack.go), and
// the report adds what the attacker got and, with -server-pid, the
// authority's RSS and CPU time.
package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

type config struct {
	url, client, user, password, org, device, installCode string
	serverSched                                           string
	n, approvers                                          int
	duration, ramp, settle                                time.Duration
	approveShare                                          float64
	perAddr, attackers, serverPID, stores                 int
	writeSeed                                             string
	timeline                                              bool
	attackRPS                                             float64
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "", "authority base URL on loopback (default: start one in-process)")
	flag.IntVar(&c.n, "n", 1000, "simulated devices")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "length of the run (devices stop polling then)")
	flag.DurationVar(&c.ramp, "ramp", 5*time.Second, "devices start spread over this time")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "answers from ramp+settle on are the steady state, reported apart")
	flag.Float64Var(&c.approveShare, "approve", 0.1, "share of devices a person approves through the pages")
	flag.IntVar(&c.approvers, "approvers", 4, "concurrent people approving")
	flag.StringVar(&c.client, "client", authority.DefaultClientID, "client_id")
	flag.StringVar(&c.user, "user", authority.DemoUsername, "user name for approvals")
	flag.StringVar(&c.password, "password", authority.DemoPassword, "password for approvals")
	flag.StringVar(&c.org, "org", authority.DemoOrganization, "organization for approvals")
	flag.StringVar(&c.device, "device", "POS-0001-MAIN", "with -stores 0: Server ID every approval licenses")
	flag.StringVar(&c.installCode, "install-code", "MS-4821", "with -stores 0: install code the devices present (the approved device's)")
	flag.IntVar(&c.stores, "stores", 0, "approvals license this many stores in turn (seeded with -write-seed, customers of 10 stores), each approval a store's first license; 0: every approval licenses -device, each a license move")
	flag.StringVar(&c.writeSeed, "write-seed", "", "write the seed of the authority (the demo and the -stores stores) to this file and exit")
	flag.IntVar(&c.perAddr, "per-addr", 20, "devices per loopback source address (127.1.x.y)")
	flag.IntVar(&c.attackers, "attackers", 0, "attacker addresses flooding /device/authorize and /login (127.0.0.2 onwards); 0: no attack")
	flag.Float64Var(&c.attackRPS, "attack-rps", 1000, "attacker requests per second, in all")
	flag.BoolVar(&c.timeline, "timeline", false, "also print the legitimate answers' count, p50, p99 and max for every second of the run")
	flag.StringVar(&c.serverSched, "server-sched", "", "the authority's /debug/sched URL (cmd/authority -pprof): report its scheduling delays beside this process's")
	flag.IntVar(&c.serverPID, "server-pid", 0, "the authority's process, for its RSS and CPU time in the report")
	flag.Parse()
	if c.writeSeed != "" {
		if err := writeSeed(c.writeSeed, c.stores); err != nil {
			fmt.Fprintln(os.Stderr, "authorityload:", err)
			os.Exit(1)
		}
		return
	}
	// The load generator's own collections hold up its goroutines and
	// count in the latencies it measures (one a second, 50 ms each, on one
	// core): it collects a fifth as often unless GOGC says otherwise.
	// (Not collecting at all was worse: the heap's ever-new pages cost
	// more, and the load generator's p50 grew over the run.)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "authorityload:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.url == "" {
		stop, u, err := startInProcess()
		if err != nil {
			return err
		}
		defer stop()
		c.url = u
	}
	if err := loopbackOnly(c.url); err != nil {
		return err
	}
	tr := transportFrom(nil, c.approvers+16)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	// The devices' clients, one per source address.
	var deviceClients []*http.Client
	for a := 0; a*c.perAddr < c.n; a++ {
		t := transportFrom(net.IPv4(127, 1, byte(a/250), byte(a%250+1)), c.perAddr)
		defer t.CloseIdleConnections()
		deviceClients = append(deviceClients, &http.Client{Transport: t, Timeout: 10 * time.Second})
	}
	server := startUsage(c.serverPID)
	if err := waitHealthy(client, c.url); err != nil {
		return err
	}

	st := newStats()
	// Steady state: every device has started and had -settle to get
	// over the ramp.
	st.steadyFrom = time.Now().Add(c.ramp + c.settle)
	st.start = time.Now()
	cpu0 := cpuTime(os.Getpid())
	waits := startWaits(client, c.serverSched)
	ctx, cancel := context.WithTimeout(context.Background(), c.duration+15*time.Second)
	defer cancel()
	deadline := time.Now().Add(c.duration)
	codes := make(chan approval, c.n)
	var people sync.WaitGroup
	for range c.approvers {
		people.Add(1)
		go func() {
			defer people.Done()
			approve(ctx, c, tr, codes, st)
		}()
	}
	att := &attack{}
	if c.attackers > 0 {
		// The people sign in before the flood starts; then the attacker
		// runs for the whole run.
		time.Sleep(time.Second)
		go att.run(ctx, c, deadline)
	}
	var devices sync.WaitGroup
	start := time.Now()
	// Each device starts at a random moment of the ramp, in the order of
	// those moments: its goroutine is made then, not 10,000 of them at
	// once to sleep (80 MB of fresh stacks in the first second held the
	// load generator up for 100 ms, which counted as the authority's).
	type startAt struct {
		device int
		at     time.Duration
	}
	starts := make([]startAt, c.n)
	for i := range starts {
		starts[i] = startAt{i, time.Duration(rand.Int64N(int64(c.ramp) + 1))}
	}
	slices.SortFunc(starts, func(a, b startAt) int { return cmp.Compare(a.at, b.at) })
	for _, sa := range starts {
		if wait := sa.at - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		i := sa.device
		devices.Add(1)
		go func() {
			defer devices.Done()
			// Spread the approved devices evenly: every 1/share-th one;
			// the k-th of them is store k's server.
			k := int(float64(i+1) * c.approveShare)
			wantApproval := k > int(float64(i)*c.approveShare)
			serverID, installCode, org := c.device, c.installCode, c.org
			if c.stores > 0 {
				store := i % c.stores
				if wantApproval {
					store = (k - 1) % c.stores
				}
				serverID, installCode, org = storeID(store), storeInstallCode(store), storeOrg(store)
			}
			device(ctx, c, deviceClients[i/c.perAddr], st, deadline, installCode, approval{serverID: serverID, org: org}, wantApproval, codes)
		}()
	}
	devices.Wait()
	elapsed := time.Since(start)
	close(codes)
	people.Wait()
	st.report(c.n, elapsed)
	waits.stop()
	if c.timeline {
		st.timeline(waits)
	}
	self := cpuTime(os.Getpid()) - cpu0
	// How long the load generator's own goroutines waited for a CPU: its
	// share of the latencies above, which the authority did not cause.
	fmt.Printf("load generator: CPU %.1f s in %.1f s (%.0f%% of one core)\n", self.Seconds(), elapsed.Seconds(), 100*self.Seconds()/elapsed.Seconds())
	waits.report()
	if c.attackers > 0 {
		att.report(c)
	}
	server.report()
	return nil
}

// transportFrom is a keep-alive transport whose connections come from
// local (nil: any address).
func transportFrom(local net.IP, conns int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DialContext: d.DialContext, DisableCompression: true}
}

// device is one POS server: authorize, then poll until it has a token, is
// refused, or the run ends.
func device(ctx context.Context, c config, client *http.Client, st *stats, deadline time.Time, installCode string, a approval, wantApproval bool, codes chan<- approval) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		st.fail("authorize", 0, err)
		return
	}
	var da struct {
		DeviceCode string `json:"device_code"`
		UserCode   string `json:"user_code"`
		Interval   int    `json:"interval"`
	}
	status, body, err := st.post(ctx, client, key, "authorize", c.url+"/device/authorize",
		url.Values{"client_id": {c.client}, "device_name": {"load-test"}, "install_code": {installCode}})
	if err != nil || status != http.StatusOK || json.Unmarshal(body, &da) != nil {
		st.fail("authorize", status, err)
		return
	}
	if wantApproval {
		a.userCode = da.UserCode
		codes <- a
	}
	interval := time.Duration(max(da.Interval, 1)) * time.Second
	form := url.Values{"client_id": {c.client}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}}
	for {
		// RFC 8628 §3.5: wait the interval after each answer.
		if time.Now().Add(interval).After(deadline) {
			return
		}
		time.Sleep(interval)
		status, body, took, err := st.send(ctx, client, key, c.url+"/token", form)
		if err != nil {
			st.fail("poll", status, err)
			return
		}
		var r struct {
			Error       string `json:"error"`
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &r)
		switch {
		case status == http.StatusOK && r.AccessToken != "":
			// The poll that redeems an approved code writes the token's
			// chain and issuance durably: its own line, apart from the
			// pending polls answered from memory.
			st.record("redeem", took)
			st.tokens.Add(1)
			return
		case r.Error == "authorization_pending":
			st.record("poll", took)
		case r.Error == "slow_down":
			st.record("poll", took)
			st.slowDowns.Add(1)
			interval += 5 * time.Second
		default:
			st.record("poll", took)
			st.fail("poll", status, fmt.Errorf("unexpected answer %q", r.Error))
			return
		}
	}
}

// approval is a code for a person to approve, the store's server it
// licenses and the organization that server belongs to.
type approval struct{ userCode, serverID, org string }

// The stores of -stores: Server ID, install code and organization of
// store k. Stores belong to customers of storesPerOrg stores each, as a
// vendor's fleet would: a device page lists one customer's stores.
const storesPerOrg = 10

func storeID(k int) string          { return fmt.Sprintf("LOAD-%05d", k) }
func storeInstallCode(k int) string { return fmt.Sprintf("LD-%05d", k) }
func storeOrg(k int) string         { return fmt.Sprintf("load-customer-%04d", k/storesPerOrg) }

// writeSeed writes the demo seed and n stores in customers' organizations,
// for cmd/authority -seed.
func writeSeed(path string, n int) error {
	seed := authority.DemoSeed()
	renewal := time.Now().UTC().AddDate(1, 0, 0).Truncate(24 * time.Hour)
	for k := range n {
		if k%storesPerOrg == 0 {
			seed.Organizations = append(seed.Organizations, authority.OrganizationSeed{ID: storeOrg(k), Name: "Load-test customer " + strconv.Itoa(k/storesPerOrg)})
		}
		org := &seed.Organizations[len(seed.Organizations)-1]
		org.Devices = append(org.Devices, authority.DeviceSeed{ServerID: storeID(k), Name: "Store " + strconv.Itoa(k), InstallCode: storeInstallCode(k),
			HubServerName: "hub-load", HubServerURL: "https://hub-load.example.com", Features: []string{"xms"},
			License: &authority.LicenseSeed{ID: "LIC-" + storeID(k), Type: wire.Subscription, Customer: org.Name, Capacity: 4, RenewalDate: renewal}})
	}
	data, err := json.Marshal(seed)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// approve is one person at a browser: sign in once, choose the
// organization, then enter and confirm every code that arrives.
func approve(ctx context.Context, c config, tr http.RoundTripper, codes <-chan approval, st *stats) {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second}
	csrf := ""
	page := func(op, path string, form url.Values, want string) bool {
		form.Set("csrf_token", csrf)
		status, body, err := st.post(ctx, b, nil, op, c.url+path, form)
		if m := csrfRE.FindSubmatch(body); m != nil {
			csrf = string(m[1])
		}
		if err != nil || status != http.StatusOK || !strings.Contains(string(body), want) {
			st.fail(op, status, err)
			return false
		}
		return true
	}
	resp, err := b.Get(c.url + "/login")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := csrfRE.FindSubmatch(body); m != nil {
			csrf = string(m[1])
		}
	}
	org := c.org
	signedIn := err == nil &&
		page("login", "/login", url.Values{"username": {c.user}, "password": {c.password}}, `id="org-form"`) &&
		page("choose-org", "/org", url.Values{"org": {org}}, `id="device-form"`)
	for a := range codes {
		if !signedIn {
			continue
		}
		// Vendor staff: every organization is theirs; the store's first.
		if a.org != org {
			if !page("choose-org", "/org", url.Values{"org": {a.org}}, `id="device-form"`) {
				continue
			}
			org = a.org
		}
		form := func() url.Values { return url.Values{"user_code": {a.userCode}, "device": {a.serverID}} }
		if page("enter-code", "/device", form(), `id="confirm-form"`) {
			f := form()
			f.Set("action", "approve")
			page("confirm", "/device/confirm", f, `id="success"`)
		}
	}
}

// stats collects latencies per operation and failures.
type stats struct {
	mu        sync.Mutex
	lat       map[string][]time.Duration
	errs      map[string]int
	firstErrs []string
	// steady holds the latencies of the answers after steadyFrom: the
	// ramp's tail (every device authorizing at once) apart.
	steadyFrom time.Time
	steady     []time.Duration
	// bySecond is the legitimate answers' latencies per second of the
	// run (-timeline), to see when a tail happens.
	start     time.Time
	bySecond  [][]time.Duration
	tokens    atomic.Int64
	slowDowns atomic.Int64
}

func newStats() *stats {
	return &stats{lat: map[string][]time.Duration{}, errs: map[string]int{}}
}

// post sends a form, with a DPoP proof by key unless it is nil, and
// records the latency of a complete answer under op.
func (s *stats) post(ctx context.Context, c *http.Client, key ed25519.PrivateKey, op, u string, form url.Values) (int, []byte, error) {
	status, body, took, err := s.send(ctx, c, key, u, form)
	if took > 0 {
		s.record(op, took)
	}
	return status, body, err
}

// send is post without the recording: took is the latency of a complete
// answer (0 without one), for the caller to record once it knows which
// operation the answer was.
func (s *stats) send(ctx context.Context, c *http.Client, key ed25519.PrivateKey, u string, form url.Values) (status int, body []byte, took time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != nil {
		proof, err := wire.NewDPoPProof(key, http.MethodPost, u, strconv.FormatUint(rand.Uint64(), 36)+strconv.FormatUint(rand.Uint64(), 36), time.Now())
		if err != nil {
			return 0, nil, 0, err
		}
		req.Header.Set(wire.HeaderDPoP, proof)
	}
	var got httptrace.GotConnInfo
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { got = i }}))
	t := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		// Which connection failed says why: a fresh one, or one that
		// waited in the pool (and how long) and was closed under it.
		return 0, nil, 0, fmt.Errorf("%w (connection reused %v, idle %v for %v, after %v)", err, got.Reused, got.WasIdle, got.IdleTime.Round(time.Millisecond), time.Since(t).Round(time.Millisecond))
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	took = time.Since(t)
	if err != nil {
		return resp.StatusCode, nil, 0, err
	}
	if resp.StatusCode >= 500 {
		return resp.StatusCode, body, took, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, body, took, nil
}

func (s *stats) record(op string, took time.Duration) {
	s.mu.Lock()
	s.lat[op] = append(s.lat[op], took)
	now := time.Now()
	if !s.steadyFrom.IsZero() && now.After(s.steadyFrom) {
		s.steady = append(s.steady, took)
	}
	if !s.start.IsZero() {
		sec := int(now.Sub(s.start) / time.Second)
		for len(s.bySecond) <= sec {
			s.bySecond = append(s.bySecond, nil)
		}
		s.bySecond[sec] = append(s.bySecond[sec], took)
	}
	s.mu.Unlock()
}

func (s *stats) fail(op string, status int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs[op]++
	if len(s.firstErrs) < 5 {
		s.firstErrs = append(s.firstErrs, fmt.Sprintf("%s: status %d: %v", op, status, err))
	}
}

func (s *stats) report(n int, elapsed time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []time.Duration
	errors := 0
	fmt.Printf("%-12s %9s %10s %10s %10s %7s\n", "operation", "requests", "p50", "p99", "max", "errors")
	for _, op := range []string{"authorize", "poll", "redeem", "login", "choose-org", "enter-code", "confirm"} {
		l := s.lat[op]
		all = append(all, l...)
		errors += s.errs[op]
		if len(l) == 0 && s.errs[op] == 0 {
			continue
		}
		p50, p99, mx := percentiles(l)
		fmt.Printf("%-12s %9d %10s %10s %10s %7d\n", op, len(l), p50, p99, mx, s.errs[op])
	}
	p50, p99, mx := percentiles(all)
	rps := float64(len(all)) / elapsed.Seconds()
	fmt.Printf("%-12s %9d %10s %10s %10s %7d\n", "all", len(all), p50, p99, mx, errors)
	sp50, sp99, smx := percentiles(s.steady)
	fmt.Printf("%-12s %9d %10s %10s %10s\n", "after ramp", len(s.steady), sp50, sp99, smx)
	for _, e := range s.firstErrs {
		fmt.Println("error:", e)
	}
	// The devices' own figures (sorted above): what a store waits for.
	_, authP99, _ := percentiles(s.lat["authorize"])
	pollP50, pollP99, _ := percentiles(s.lat["poll"])
	_, redeemP99, _ := percentiles(s.lat["redeem"])
	fmt.Printf("RESULT n=%d seconds=%.1f requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.1f errors=%d slow_down=%d tokens=%d"+
		" authorize_p99_ms=%.2f poll_p50_ms=%.2f poll_p99_ms=%.2f redeem_p99_ms=%.2f steady_p99_ms=%.2f\n",
		n, elapsed.Seconds(), len(all), rps, ms(p50), ms(p99), ms(mx), errors, s.slowDowns.Load(), s.tokens.Load(),
		ms(authP99), ms(pollP50), ms(pollP99), ms(redeemP99), ms(sp99))
}

// timeline prints the latencies of every second of the run, with the p99
// of the time the load generator's and the authority's goroutines waited
// for a CPU in that second.
func (s *stats) timeline(w *waits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("%6s %8s %10s %10s %10s %12s %12s\n", "second", "answers", "p50", "p99", "max", "load_wait99", "server_wait99")
	for sec, l := range s.bySecond {
		p50, p99, mx := percentiles(l)
		self, server := w.second(sec)
		fmt.Printf("%6d %8d %10s %10s %10s %12s %12s\n", sec, len(l), p50, p99, mx, self, server)
	}
}

func percentiles(l []time.Duration) (p50, p99, mx time.Duration) {
	if len(l) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l)
	at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))] }
	return at(0.50).Round(time.Microsecond), at(0.99).Round(time.Microsecond), l[len(l)-1].Round(time.Microsecond)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func loopbackOnly(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	ip := net.ParseIP(p.Hostname())
	if p.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s is not a loopback address; this benchmark only runs against loopback", u)
	}
	return nil
}

func waitHealthy(c *http.Client, base string) error {
	var last error
	for range 100 {
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("healthz: HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("authority at %s is not healthy: %w", base, last)
}

// startInProcess runs an authority on a loopback port in this process.
func startInProcess() (func(), string, error) {
	dir, err := os.MkdirTemp("", "authorityload-")
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	base := "http://" + ln.Addr().String()
	srv, err := authority.New(authority.Options{DataDir: filepath.Join(dir, "data"), Issuer: base, PollInterval: time.Second,
		Logger: zerolog.New(os.Stderr).Level(zerolog.WarnLevel)})
	if err != nil {
		return nil, "", err
	}
	if err := srv.Seed(authority.DemoSeed()); err != nil {
		return nil, "", err
	}
	hs := srv.HTTPServer("")
	go func() {
		if err := hs.Serve(srv.Listener(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "serve:", err)
		}
	}()
	return func() {
		_ = hs.Close()
		_ = srv.Close()
		_ = os.RemoveAll(dir)
	}, base, nil
}
