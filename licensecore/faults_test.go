package licensecore_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// The fault matrix of issue 11: the real Client (with DPoP) and Manager
// talk to the real authority through a toxiproxy proxy on loopback, and
// each case breaks the connection in one way the field does. Every case
// ends with the installation licensed and its one refresh chain alive: two
// refreshes in a row work after the fault is gone (a revoked or lost chain
// would refuse the first).
//
// The authority's Issuer is the proxy's address, so the tokens' iss and the
// DPoP proofs' htu match what the client dials.
//
// Each failing refresh must be reported as what it is: a fault on the way
// (ErrAuthorityDown), never an answer License Desk does not understand. The
// client reads every answer whole in its transport, so a body cut mid-way
// is a transport error even inside x/oauth2.

const (
	faultLifetime = 2 * time.Minute
	// faultTimeout is the client's HTTP timeout in the cases; the faults
	// that hold a connection outlast it.
	faultTimeout = 1500 * time.Millisecond

	envFaultChild  = "LICENSECORE_FAULT_CHILD" // the store directory
	envFaultURL    = "LICENSECORE_FAULT_URL"   // the authority (proxy) URL
	markRefreshing = "fault-child: refreshing"
	markRefreshed  = "fault-child: refreshed"
)

// faultRig is the authority behind a toxiproxy proxy. The authority runs
// on its own loopback port (the proxy's upstream) and can be restarted on
// the same address and data directory.
type faultRig struct {
	t     *testing.T
	grace time.Duration // the authority's RefreshGrace (0: its default)
	dir   string        // the authority's data directory
	addr  string        // the authority's listening address (the proxy's upstream)
	url   string        // the proxy's URL: what the client dials, the Issuer
	proxy *toxiproxy.Proxy

	srv     atomic.Pointer[authority.Server]
	handler atomic.Pointer[http.Handler]
	ts      *httptest.Server
	// front, when set, answers instead of the authority (a broken reverse
	// proxy in front of it).
	front atomic.Pointer[http.HandlerFunc]
	// served hears the path of every request the authority answered.
	served chan string
}

func startFaultRig(t *testing.T) *faultRig {
	t.Helper()
	return startFaultRigGrace(t, 0)
}

// startFaultRigGrace is startFaultRig with the authority's RefreshGrace.
func startFaultRigGrace(t *testing.T, grace time.Duration) *faultRig {
	t.Helper()
	rig := &faultRig{t: t, grace: grace, dir: filepath.Join(t.TempDir(), "authority"), served: make(chan string, 64)}
	rig.ts = httptest.NewUnstartedServer(http.HandlerFunc(rig.serve))
	rig.addr = rig.ts.Listener.Addr().String()

	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	rig.proxy = toxiproxy.NewProxy(api, "authority", "127.0.0.1:0", rig.addr)
	if err := rig.proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rig.proxy.Stop)
	rig.url = "http://" + rig.proxy.Listen

	srv := rig.newAuthority()
	if err := srv.Seed(authoritySeed(nil)); err != nil {
		t.Fatal(err)
	}
	rig.ts.Start()
	t.Cleanup(func() {
		rig.ts.CloseClientConnections()
		rig.ts.Close()
		rig.srv.Load().Close()
	})
	return rig
}

// newAuthority opens the authority on rig.dir (its store key and root key
// files sit beside it, so a reopen keeps the same root) and puts it in
// service.
func (rig *faultRig) newAuthority() *authority.Server {
	rig.t.Helper()
	srv, err := authority.New(authority.Options{PoolTrustOnFirstUse: true,
		DataDir: rig.dir, Issuer: rig.url, Logger: zerolog.Nop(),
		TokenLifetime: faultLifetime, PollInterval: time.Second, RefreshGrace: rig.grace,
		Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1},
	})
	if err != nil {
		rig.t.Fatal(err)
	}
	h := srv.Handler()
	rig.handler.Store(&h)
	rig.srv.Store(srv)
	return srv
}

func (rig *faultRig) serve(w http.ResponseWriter, r *http.Request) {
	if f := rig.front.Load(); f != nil {
		(*f)(w, r)
		return
	}
	rig.pass(w, r)
}

// pass hands r to the authority.
func (rig *faultRig) pass(w http.ResponseWriter, r *http.Request) {
	(*rig.handler.Load()).ServeHTTP(w, r)
	select {
	case rig.served <- r.URL.Path:
	default:
	}
}

func (rig *faultRig) setFront(f http.HandlerFunc) {
	if f == nil {
		rig.front.Store(nil)
		return
	}
	rig.front.Store(&f)
}

// drain forgets the requests served so far.
func (rig *faultRig) drain() {
	for {
		select {
		case <-rig.served:
		default:
			return
		}
	}
}

// waitServed waits until the authority has answered a request for path
// (the server processed it, whatever happens to the answer on the way).
func (rig *faultRig) waitServed(path string, within time.Duration) {
	rig.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case p := <-rig.served:
			if p == path {
				return
			}
		case <-deadline:
			rig.t.Fatalf("the authority did not answer %s within %v", path, within)
		}
	}
}

// notServed checks that the authority answered no request for path.
func (rig *faultRig) notServed(path string) {
	rig.t.Helper()
	for {
		select {
		case p := <-rig.served:
			if p == path {
				rig.t.Fatalf("the authority answered %s, the request should have been dropped", path)
			}
		default:
			return
		}
	}
}

// restart stops the authority the hard way (its connections cut, the
// process gone) and starts a new one on the same address and data.
func (rig *faultRig) restart() {
	rig.t.Helper()
	root := rig.srv.Load().RootPublicKey()
	rig.ts.CloseClientConnections()
	rig.ts.Close()
	if err := rig.srv.Load().Close(); err != nil {
		rig.t.Fatal(err)
	}
	var ln net.Listener
	var err error
	for range 50 { // the port is ours again as soon as the old listener is gone
		if ln, err = net.Listen("tcp", rig.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		rig.t.Fatalf("listen again on %s: %v", rig.addr, err)
	}
	srv := rig.newAuthority()
	if !srv.RootPublicKey().Equal(root) {
		rig.t.Fatal("the restarted authority has another root key")
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(rig.serve))
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	rig.ts = ts
}

// toxic adds a toxic to the proxy (JSON as toxiproxy's API takes it) and
// returns its removal, also run at the end of the test.
func (rig *faultRig) toxic(spec string) func() {
	rig.t.Helper()
	w, err := rig.proxy.Toxics.AddToxicJson(strings.NewReader(spec))
	if err != nil {
		rig.t.Fatalf("toxic %s: %v", spec, err)
	}
	removed := false
	remove := func() {
		if !removed {
			removed = true
			if err := rig.proxy.Toxics.RemoveToxic(context.Background(), w.Name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
				rig.t.Errorf("remove toxic %s: %v", w.Name, err)
			}
		}
	}
	rig.t.Cleanup(remove)
	return remove
}

// answerSize records the size of the last /token answer as it crossed the
// wire: the status line and headers, and the body.
type answerSize struct {
	base       http.RoundTripper
	head, body atomic.Int64
}

func (a *answerSize) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(req)
	if err == nil && req.URL.Path == "/token" && resp.StatusCode == http.StatusOK {
		if dump, derr := httputil.DumpResponse(resp, false); derr == nil {
			a.head.Store(int64(len(dump)))
			a.body.Store(resp.ContentLength)
		}
	}
	return resp, err
}

// faultClient is the HTTP client of the installation in the cases: a new
// connection per request (a toxic then meets every request from its
// start), a short timeout.
func faultClient(timeout time.Duration, sizes *answerSize) *http.Client {
	var rt http.RoundTripper = &http.Transport{DisableKeepAlives: true}
	if sizes != nil {
		sizes.base = rt
		rt = sizes
	}
	return &http.Client{Timeout: timeout, Transport: rt}
}

// openFaultManager opens the store in dir and a Manager on it that talks
// to url.
func openFaultManager(t *testing.T, dir, url string, hc *http.Client) (*licensecore.Manager, *licensecore.Store) {
	t.Helper()
	return openFaultManagerRoot(t, dir, url, hc, nil)
}

// openFaultManagerRoot is openFaultManager with a configured root (nil: the
// pinned one).
func openFaultManagerRoot(t *testing.T, dir, url string, hc *http.Client, root ed25519.PublicKey) (*licensecore.Manager, *licensecore.Store) {
	t.Helper()
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: dir, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := licensecore.NewManager(licensecore.Options{
		Store: store, AuthorityURL: url, Logger: zerolog.Nop(), Root: root,
		DeviceName: "Test PC", InstallCode: "BCDF-GHJK-LMNP-QRST", HTTPClient: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}

// licensedInstall is an installation that acquired its license through the
// proxy (no toxic yet).
type licensedInstall struct {
	m     *licensecore.Manager
	store *licensecore.Store
	dir   string
	sizes *answerSize
}

// install acquires a license for a new installation through the proxy,
// with an HTTP client that gives up after timeout, and refreshes once.
func (rig *faultRig) install(t *testing.T, timeout time.Duration) *licensedInstall {
	t.Helper()
	in := &licensedInstall{dir: filepath.Join(t.TempDir(), "store"), sizes: &answerSize{}}
	// The installer's configuration names the authority's root; it is
	// pinned at the first start.
	in.m, in.store = openFaultManagerRoot(t, in.dir, rig.url, faultClient(timeout, in.sizes), rig.srv.Load().RootPublicKey())
	m := in.m
	st, err := acquire(t, m, rig.url, "approve")
	if err != nil || st.State != licensecore.Licensed {
		t.Fatalf("acquire through the proxy: %v (%v)", err, st.State)
	}
	// One clean refresh: the answer's size is known from here on.
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatalf("refresh through the proxy: %v", err)
	}
	rig.drain()
	return in
}

// failRefresh runs a refresh that the fault must make fail, and checks
// that the stored tokens are those of before.
func (in *licensedInstall) failRefresh(t *testing.T, within time.Duration) error {
	t.Helper()
	before, err := in.store.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_, err = in.m.RefreshNow(ctx)
	if err == nil {
		t.Fatal("the refresh succeeded through the fault")
	}
	if after, _ := in.store.Tokens(); after != before {
		t.Fatal("a failed refresh changed the stored tokens")
	}
	t.Logf("refresh through the fault: %v", err)
	return err
}

// assertLiveChain checks the end state of every case: licensed with a
// valid token, and the chain alive — a refresh (a retry of the one the
// fault broke, where it was) and one more, each storing a new token.
func (in *licensedInstall) assertLiveChain(t *testing.T) {
	t.Helper()
	for i := range 2 {
		before, _ := in.store.Tokens()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := in.m.RefreshNow(ctx)
		cancel()
		if err != nil {
			t.Fatalf("refresh %d after the fault: %v", i+1, err)
		}
		after, _ := in.store.Tokens()
		if after.Refresh == before.Refresh || after.License == before.License {
			t.Fatalf("refresh %d after the fault stored no new pair", i+1)
		}
		if st.State != licensecore.Licensed || st.Token != licensecore.TokenOK {
			t.Fatalf("after refresh %d: %v/%v", i+1, st.State, st.Token)
		}
	}
	st := in.m.Status()
	if st.State != licensecore.Licensed || st.Token != licensecore.TokenOK || st.License.ServerID != "POS-T1" {
		t.Fatalf("end state %v/%v %+v", st.State, st.Token, st.License)
	}
	events, err := in.store.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Kind == licensecore.EventRejected {
			t.Fatalf("the authority refused the installation on the way: %+v", e)
		}
	}
}

func isDown(err error) bool {
	return errors.Is(err, licensecore.ErrAuthorityDown) || errors.Is(err, context.DeadlineExceeded)
}

func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("toxiproxy fault matrix")
	}
	// The toxics log through zerolog's global logger; nothing else here
	// uses it.
	log.Logger = zerolog.Nop()
	start := time.Now()
	defer func() { t.Logf("fault matrix: %v", time.Since(start).Round(time.Millisecond)) }()

	t.Run("request dropped", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, faultTimeout)
		// The request never reaches the authority: the proxy swallows it
		// and holds the connection until the client gives up.
		remove := rig.toxic(`{"name":"drop","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`)
		if err := in.failRefresh(t, 5*time.Second); !isDown(err) {
			t.Fatalf("dropped request: %v, want ErrAuthorityDown", err)
		}
		remove()
		rig.notServed("/token")
		// Connection refused: nothing listens at the authority's address.
		rig.proxy.Stop()
		if err := in.failRefresh(t, 5*time.Second); !errors.Is(err, licensecore.ErrAuthorityDown) {
			t.Fatalf("connection refused: %v, want ErrAuthorityDown", err)
		}
		if err := rig.proxy.Start(); err != nil {
			t.Fatal(err)
		}
		rig.notServed("/token")
		in.assertLiveChain(t)
	})

	t.Run("answer dropped after the server processed it", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, faultTimeout)
		// The authority rotates the refresh token and answers; the proxy
		// passes none of the answer and closes (FIN).
		remove := rig.toxic(`{"name":"cut","type":"limit_data","stream":"downstream","attributes":{"bytes":0}}`)
		if err := in.failRefresh(t, 5*time.Second); !isDown(err) {
			t.Fatalf("answer cut: %v, want ErrAuthorityDown", err)
		}
		remove()
		rig.waitServed("/token", 2*time.Second)
		// The retry of the same refresh token is cut again, this time by a
		// reset once the answer arrives.
		remove = rig.toxic(`{"name":"rst","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`)
		if err := in.failRefresh(t, 5*time.Second); !isDown(err) {
			t.Fatalf("answer reset: %v, want ErrAuthorityDown", err)
		}
		remove()
		rig.waitServed("/token", 2*time.Second)
		in.assertLiveChain(t)
	})

	t.Run("30 s latency", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, faultTimeout)
		remove := rig.toxic(`{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":30000}}`)
		began := time.Now()
		if err := in.failRefresh(t, 5*time.Second); !isDown(err) {
			t.Fatalf("30 s latency: %v, want ErrAuthorityDown", err)
		}
		if took := time.Since(began); took > 3*faultTimeout {
			t.Fatalf("the client waited %v, its timeout is %v", took, faultTimeout)
		}
		rig.waitServed("/token", 2*time.Second)
		remove()
		in.assertLiveChain(t)
	})

	t.Run("bandwidth trickle", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, 4*time.Second)
		size := in.sizes.head.Load() + in.sizes.body.Load()
		t.Logf("a refresh answer is %d bytes", size)
		// 1 KB/s both ways: slow, but within the client's timeout.
		up := rig.toxic(`{"name":"trickle_up","type":"bandwidth","stream":"upstream","attributes":{"rate":1}}`)
		down := rig.toxic(`{"name":"trickle_down","type":"bandwidth","stream":"downstream","attributes":{"rate":1}}`)
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := in.m.RefreshNow(ctx)
		cancel()
		if err != nil {
			t.Fatalf("refresh at 1 KB/s: %v", err)
		}
		t.Logf("refresh at 1 KB/s took %v", time.Since(began).Round(time.Millisecond))
		// A trickle slower than the client waits (1 KB/s, a client that
		// waits 1 s): the authority answers, the client gives up half way
		// through the answer.
		up()
		down()
		rig.drain()
		in.m, in.store = reopenManager(t, in, rig.url, time.Second)
		down = rig.toxic(`{"name":"trickle_down","type":"bandwidth","stream":"downstream","attributes":{"rate":1}}`)
		err = in.failRefresh(t, 10*time.Second)
		if !isDown(err) {
			t.Errorf("trickle beyond the timeout: %v, want ErrAuthorityDown", err)
		}
		rig.waitServed("/token", 2*time.Second)
		down()
		in.assertLiveChain(t)
	})

	t.Run("500 with an HTML body", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, faultTimeout)
		html := func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>")
		}
		// A broken reverse proxy that answers by itself.
		rig.setFront(func(w http.ResponseWriter, _ *http.Request) { html(w) })
		if err := in.failRefresh(t, 5*time.Second); !errors.Is(err, licensecore.ErrAuthorityBroken) {
			t.Fatalf("500 HTML: %v, want ErrAuthorityBroken", err)
		}
		rig.notServed("/token")
		// One that passes the request on and replaces the answer: the
		// authority rotated the token, the client saw only the error page.
		rig.setFront(func(w http.ResponseWriter, r *http.Request) {
			rig.pass(httptest.NewRecorder(), r)
			html(w)
		})
		if err := in.failRefresh(t, 5*time.Second); !errors.Is(err, licensecore.ErrAuthorityBroken) {
			t.Fatalf("500 HTML after the authority answered: %v, want ErrAuthorityBroken", err)
		}
		rig.waitServed("/token", 2*time.Second)
		rig.setFront(nil)
		in.assertLiveChain(t)
	})

	t.Run("connection reset mid-body", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, faultTimeout)
		head, body := in.sizes.head.Load(), in.sizes.body.Load()
		if head <= 0 || body <= 0 {
			t.Fatalf("answer size unknown (head %d, body %d)", head, body)
		}
		// The headers and half the body pass, then the proxy resets the
		// connection (reset_peer in the chain makes the close an RST; its
		// toxicity 0 lets the data through).
		rig.toxic(`{"name":"rst","type":"reset_peer","stream":"downstream","toxicity":0,"attributes":{"timeout":0}}`)
		rig.toxic(fmt.Sprintf(`{"name":"cut","type":"limit_data","stream":"downstream","attributes":{"bytes":%d}}`, head+body/2))
		err := in.failRefresh(t, 5*time.Second)
		if !isDown(err) {
			t.Errorf("reset mid-body: %v, want ErrAuthorityDown", err)
		}
		rig.waitServed("/token", 2*time.Second)
		rig.proxy.Toxics.ResetToxics(context.Background())
		in.assertLiveChain(t)
	})

	t.Run("authority restarted mid-refresh", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, 10*time.Second)
		// The answer is held in the proxy; the authority is stopped with the
		// refresh processed but not delivered, and starts again on the same
		// address and data.
		remove := rig.toxic(`{"name":"hold","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)
		before, _ := in.store.Tokens()
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := in.m.RefreshNow(ctx)
			done <- err
		}()
		rig.waitServed("/token", 5*time.Second)
		rig.restart()
		err := <-done
		if !isDown(err) {
			t.Fatalf("refresh cut by the restart: %v, want ErrAuthorityDown", err)
		}
		t.Logf("refresh cut by the restart: %v", err)
		if after, _ := in.store.Tokens(); after != before {
			t.Fatal("the cut refresh changed the stored tokens")
		}
		remove()
		in.assertLiveChain(t)
	})

	// The pair received before the key set fetch failed is kept (stored
	// before it is verified): the retry, after the grace window (1 s here,
	// 10 min in the field), verifies it instead of spending the refresh
	// token again, which would revoke the chain.
	t.Run("key set fetch dropped after the answer", func(t *testing.T) {
		const grace = time.Second
		rig := startFaultRigGrace(t, grace)
		in := rig.install(t, faultTimeout)
		// A key rotation: the next token has a kid the installation does
		// not know, so it fetches the signed key set — and that request
		// is dropped (the connection closed without an answer).
		if err := rig.srv.Load().RotateKey(); err != nil {
			t.Fatal(err)
		}
		rig.setFront(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != wire.PathSignedJWKS {
				rig.pass(w, r)
				return
			}
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := in.m.RefreshNow(ctx)
		cancel()
		if err == nil {
			t.Fatal("the refresh verified a token whose key set it could not fetch")
		}
		t.Logf("refresh with the key set unreachable: %v", err)
		rig.waitServed("/token", 2*time.Second)
		time.Sleep(grace + 200*time.Millisecond) // offline past the grace window
		rig.setFront(nil)
		in.assertLiveChain(t)
	})

	t.Run("kill -9 between receiving and saving", func(t *testing.T) {
		rig := startFaultRig(t)
		in := rig.install(t, faultTimeout)
		before, _ := in.store.Tokens()
		if err := in.store.Close(); err != nil { // the child takes the store
			t.Fatal(err)
		}
		// 1 KB/s downstream: the head of the answer arrives at once, its
		// tail takes seconds; the child is killed in between.
		remove := rig.toxic(`{"name":"tail","type":"bandwidth","stream":"downstream","attributes":{"rate":1}}`)
		cmd := exec.Command(os.Args[0], "-test.run=^TestFaultChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envFaultChild+"="+in.dir, envFaultURL+"="+rig.url)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		rig.waitServed("/token", 15*time.Second)
		time.Sleep(300 * time.Millisecond) // the answer's head is in the child
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		var said []string
		for l := range lines {
			said = append(said, l)
		}
		if !licensecore.WasKilled(cmd.ProcessState) {
			t.Fatalf("the child was not killed: %v\n%s", cmd.ProcessState, strings.Join(said, "\n"))
		}
		for _, l := range said {
			if strings.HasPrefix(l, markRefreshed) || strings.HasPrefix(l, "fault-child: error") {
				t.Fatalf("the child finished its refresh before the kill: %s", l)
			}
		}
		remove()

		// The PC starts again: same store, same install key.
		in.m, in.store = openFaultManager(t, in.dir, rig.url, faultClient(faultTimeout, nil))
		if after, _ := in.store.Tokens(); after != before {
			t.Fatal("the killed child saved tokens: the kill was not between receiving and saving")
		}
		in.assertLiveChain(t)
	})
}

// reopenManager closes in's store and opens it again with another client
// timeout, as a restart with other settings would.
func reopenManager(t *testing.T, in *licensedInstall, url string, timeout time.Duration) (*licensecore.Manager, *licensecore.Store) {
	t.Helper()
	if err := in.store.Close(); err != nil {
		t.Fatal(err)
	}
	return openFaultManager(t, in.dir, url, faultClient(timeout, in.sizes))
}

// TestFaultChild is not a test: it is the client process of the kill -9
// case, started by TestFaults. Without its environment it does nothing.
func TestFaultChild(t *testing.T) {
	dir := os.Getenv(envFaultChild)
	if dir == "" {
		return
	}
	os.Exit(runFaultChild(dir, os.Getenv(envFaultURL)))
}

func runFaultChild(dir, url string) int {
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: dir, Logger: zerolog.Nop()})
	if err != nil {
		fmt.Println("fault-child: error:", err)
		return 1
	}
	defer store.Close()
	m, err := licensecore.NewManager(licensecore.Options{
		Store: store, AuthorityURL: url, Logger: zerolog.Nop(),
		DeviceName: "Test PC", InstallCode: "BCDF-GHJK-LMNP-QRST", HTTPClient: faultClient(30*time.Second, nil),
	})
	if err != nil {
		fmt.Println("fault-child: error:", err)
		return 1
	}
	fmt.Println(markRefreshing)
	if _, err := m.RefreshNow(context.Background()); err != nil {
		fmt.Println("fault-child: error:", err)
		return 1
	}
	fmt.Println(markRefreshed)
	return 0
}
