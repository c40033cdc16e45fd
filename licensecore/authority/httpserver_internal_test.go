package authority

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// serveHealth serves a health handler on a loopback listener, wrapped by
// wrap (nil: bare), with the given header timeout (0: HTTPServer's), and
// returns its address.
func serveHealth(tb testing.TB, header time.Duration, wrap func(net.Listener) net.Listener) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	hs := HTTPServer(mux, "", zerolog.Nop())
	if header > 0 {
		hs.ReadHeaderTimeout = header
	}
	var serve net.Listener = ln
	if wrap != nil {
		serve = wrap(ln)
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(serve) }()
	tb.Cleanup(func() {
		_ = hs.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("Serve ended with %v", err)
		}
	})
	return ln.Addr().String()
}

// serveGated is serveHealth behind a gate with the given first-byte wait.
func serveGated(t *testing.T, header, idle time.Duration) string {
	t.Helper()
	return serveHealth(t, header, func(ln net.Listener) net.Listener {
		return newConnGate(ln, DefaultMaxConnsPerIP, MaxWaitingConns, idle)
	})
}

// GetHealth sends GET /healthz on conn and reads the answer (for the
// tests of package authority_test too).
func GetHealth(conn net.Conn) error {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// TestUnusedConnectionOutlivesHeaderTimeout: a connection opened ahead of
// need and first used after the header timeout is served — net/http alone
// closes it at the header timeout, and the request sent on it gets EOF
// (what the load test's devices saw, one poll in 100,000).
func TestUnusedConnectionOutlivesHeaderTimeout(t *testing.T) {
	t.Parallel()
	const header = 200 * time.Millisecond
	addr := serveGated(t, header, time.Minute)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(3 * header)
	if err := GetHealth(conn); err != nil {
		t.Fatalf("first request %s after connecting: %v", 3*header, err)
	}
	// Kept alive, and used again: the idle timeout of every later
	// request is net/http's own.
	if err := GetHealth(conn); err != nil {
		t.Fatalf("second request: %v", err)
	}
}

// TestGateKeepsHeaderTimeout: once the first byte has come, the rest of
// the headers must follow within the header timeout (a slow-headers
// client is still cut off), and a connection that sends nothing is closed
// after the first-byte wait.
func TestGateKeepsHeaderTimeout(t *testing.T) {
	t.Parallel()
	const header, idle = 300 * time.Millisecond, 600 * time.Millisecond
	addr := serveGated(t, header, idle)
	for _, tc := range []struct {
		name, send string
		within     time.Duration
	}{
		{"slow headers", "GET /healthz HTTP/1.1\r\nHo", header},
		{"nothing sent", "", idle},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if tc.send != "" {
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn) // until the server hangs up
		took := time.Since(start)
		conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the server held the connection for 10 s", tc.name)
		}
		if took < tc.within-50*time.Millisecond || took > tc.within+2*time.Second {
			t.Fatalf("%s: closed after %s, want about %s", tc.name, took, tc.within)
		}
	}
}

// TestGateCloseEndsWaitingConnections: closing the server closes the
// connections still waiting for their first byte, and frees their places.
func TestGateCloseEndsWaitingConnections(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := newConnGate(ln, DefaultMaxConnsPerIP, MaxWaitingConns, time.Minute)
	hs := HTTPServer(http.NotFoundHandler(), "", zerolog.Nop())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(g) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gateHolds(t, g, "the connection to wait at the gate", func() bool { return g.waiting.Len() == 1 })
	if err := hs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a waiting connection after Close: %v, want it closed", err)
	}
	gateHolds(t, g, "no address counted after Close", func() bool { return len(g.perIP) == 0 })
}

// TestGateEvictsLongestWaiting: past MaxWaitingConns connections that
// have sent nothing (here 2), the one that has waited longest is closed;
// the others are still served.
func TestGateEvictsLongestWaiting(t *testing.T) {
	t.Parallel()
	var g *connGate
	addr := serveHealth(t, 0, func(ln net.Listener) net.Listener {
		g = newConnGate(ln, DefaultMaxConnsPerIP, 2, time.Minute)
		return g
	})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		if i < 2 { // the third one's arrival shows as the first one's end
			gateHolds(t, g, fmt.Sprintf("%d connections waiting", i+1), func() bool { return g.waiting.Len() == i+1 })
		}
	}
	_ = conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := conns[0].Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the longest waiting connection: %v, want it closed", err)
	}
	for i, c := range conns[1:] {
		if err := GetHealth(c); err != nil {
			t.Fatalf("waiting connection %d: %v", i+2, err)
		}
	}
}

// gateHolds waits up to 5 s for cond, checked under the gate's lock.
func gateHolds(t *testing.T, g *connGate, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		g.mu.Lock()
		ok := cond()
		g.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
	}
}

// BenchmarkNewConnection is a new connection's first request — dial,
// GET /healthz, answer, close — through the gate and, as the reference,
// on the bare listener: what handing a connection over on its first byte
// costs.
func BenchmarkNewConnection(b *testing.B) {
	for _, gated := range []bool{false, true} {
		b.Run(map[bool]string{false: "bare", true: "gated"}[gated], func(b *testing.B) {
			var wrap func(net.Listener) net.Listener
			if gated {
				wrap = func(ln net.Listener) net.Listener { return newConnGate(ln, 1<<20, MaxWaitingConns, IdleTimeout) }
			}
			addr := serveHealth(b, 0, wrap)
			for b.Loop() {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				if err := GetHealth(conn); err != nil {
					b.Fatal(err)
				}
				conn.Close()
			}
		})
	}
}
