package authority

import (
	"container/list"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// The one configuration of the HTTP server in front of an authority,
// standalone (cmd/authority) or embedded (the app's demo mode): a client
// that sends its headers or body slowly, reads the answer slowly or holds
// an idle connection open is cut off, whoever runs the authority. The
// server (HTTPServer) serves on the authority's listener (Listener).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 32 << 10
	// DefaultMaxConnsPerIP is the default bound of the open connections
	// of one client address (Options.MaxConnsPerIP): a connection over it
	// is closed at once. A flood that keeps sending whether or not it is
	// answered otherwise opens a connection, and the authority a
	// goroutine, per request it has waiting, without bound, and the
	// authority slows further the more it falls behind. A store keeps one
	// connection; the bound leaves room for many stores behind one
	// address.
	DefaultMaxConnsPerIP = 64
	// MaxWaitingConns bounds the connections, of all addresses, that are
	// open and have sent nothing yet (Listener): over it the one that has
	// waited longest is closed. They cost a descriptor and a goroutine
	// each for up to IdleTimeout, and addresses are cheap for an attacker
	// (IPv6); a client whose connection was opened ahead of need and
	// closed so dials again.
	MaxWaitingConns = 10000
)

// HTTPServer returns the http.Server to serve h on addr with: the timeouts
// and header bound above. Bodies are bounded by the handler itself
// (Options.MaxBodyBytes), so every server of Handler has the same limits.
func HTTPServer(h http.Handler, addr string, logger zerolog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		// net/http's own complaints (TLS handshakes, panics) go to the
		// authority's log rather than to the process's stderr.
		ErrorLog: log.New(logger.With().Str("component", "http").Logger(), "", 0),
	}
}

// HTTPServer is HTTPServer(s.Handler(), addr, …) with the authority's
// logger: what cmd/authority serves and what an embedding program should
// serve, on s.Listener(ln).
func (s *Server) HTTPServer(addr string) *http.Server {
	return HTTPServer(s.Handler(), addr, s.log)
}

// Listener wraps ln for the authority's HTTP server: it bounds the open
// connections of one client address (Options.MaxConnsPerIP; one over the
// bound is closed at once, unread), and it hands a connection to the
// server only once the first request on it starts to arrive.
//
// Why the second: net/http starts ReadHeaderTimeout when it accepts a
// connection. A client may open a connection before it needs one — Go's
// transport dials whenever a request waits, and keeps the connection idle
// if another frees first — and counts it idle for as long as it keeps
// connections (90 s by default), while the server closes it after 10 s
// unused. A request sent on it as the server hangs up is written, then
// answered by EOF, and a POST may not be sent again on the client's
// guess: the load test saw one device poll in 100,000 fail so. Here a new
// connection waits for its first byte as long as a kept-alive connection
// waits for its next request (IdleTimeout), and the header timeout starts
// with that byte, as it does for every later request.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return newConnGate(ln, s.opts.MaxConnsPerIP, MaxWaitingConns, IdleTimeout)
}

// connGate is Listener's net.Listener. Connections waiting for their first
// byte are its own (a goroutine each, as net/http would have spent) and
// count towards their address's bound like the server's.
type connGate struct {
	net.Listener
	maxPerIP   int
	maxWaiting int
	idle       time.Duration
	ready      chan net.Conn // connections whose first byte has come
	failed     chan error    // errors of the wrapped Accept
	done       chan struct{} // closed by Close
	once       sync.Once

	mu      sync.Mutex
	closed  bool
	perIP   map[string]int
	waiting *list.List // of *gatedConn, the longest waiting first
}

func newConnGate(ln net.Listener, maxPerIP, maxWaiting int, idle time.Duration) *connGate {
	g := &connGate{Listener: ln, maxPerIP: maxPerIP, maxWaiting: maxWaiting, idle: idle,
		ready: make(chan net.Conn), failed: make(chan error), done: make(chan struct{}),
		perIP: make(map[string]int), waiting: list.New()}
	go g.acceptLoop()
	return g
}

// Accept returns the next connection with a request arriving, or the
// wrapped listener's error (net/http retries the temporary ones).
func (g *connGate) Accept() (net.Conn, error) {
	select {
	case c := <-g.ready:
		return c, nil
	case err := <-g.failed:
		return nil, err
	case <-g.done:
		return nil, net.ErrClosed
	}
}

// Close closes the wrapped listener and every connection still waiting
// for its first byte; connections already handed over are the server's.
func (g *connGate) Close() error {
	err := g.Listener.Close()
	g.once.Do(func() {
		close(g.done)
		g.mu.Lock()
		g.closed = true
		var waiting []*gatedConn
		for e := g.waiting.Front(); e != nil; e = e.Next() {
			waiting = append(waiting, e.Value.(*gatedConn))
		}
		g.mu.Unlock()
		for _, c := range waiting {
			_ = c.Conn.Close() // its await goroutine releases it
		}
	})
	return err
}

func (g *connGate) acceptLoop() {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			// Passed on to Accept, which net/http calls again after a
			// temporary error and not after a lasting one; it then closes
			// the gate, which ends this loop.
			select {
			case g.failed <- err:
				continue
			case <-g.done:
				return
			}
		}
		ip := c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
		gc := &gatedConn{Conn: c, gate: g, ip: ip}
		admitted, evict := g.admit(gc)
		if evict != nil {
			_ = evict.Conn.Close() // its await goroutine releases it
		}
		if !admitted {
			_ = c.Close()
			continue
		}
		go g.await(gc)
	}
}

// admit counts c against its address's bound and as waiting; false when
// the bound is reached or the gate is closed. evict is the connection
// that has waited longest when c makes too many waiting, for the caller
// to close.
func (g *connGate) admit(c *gatedConn) (ok bool, evict *gatedConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.perIP[c.ip] >= g.maxPerIP {
		return false, nil
	}
	g.perIP[c.ip]++
	if g.waiting.Len() >= g.maxWaiting {
		evict = g.waiting.Remove(g.waiting.Front()).(*gatedConn)
		evict.waiting = nil
	}
	c.waiting = g.waiting.PushBack(c)
	return true, evict
}

func (g *connGate) release(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perIP[ip]--; g.perIP[ip] <= 0 {
		delete(g.perIP, ip)
	}
}

// await waits up to the idle timeout for c's first byte, then hands c to
// Accept; a connection that sends nothing, or is reset, is closed.
func (g *connGate) await(c *gatedConn) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(g.idle))
	n, _ := c.Conn.Read(c.first[:])
	g.mu.Lock()
	if c.waiting != nil {
		g.waiting.Remove(c.waiting)
		c.waiting = nil
	}
	closed := g.closed
	g.mu.Unlock()
	if n == 0 || closed {
		_ = c.Close()
		return
	}
	c.buffered = true
	_ = c.Conn.SetReadDeadline(time.Time{})
	select {
	case g.ready <- c:
	case <-g.done:
		_ = c.Close()
	}
}

// gatedConn is a connection through the gate: its first byte, read while
// it waited, comes first; closing it frees its place in its address's
// bound (once).
type gatedConn struct {
	net.Conn
	gate     *connGate
	ip       string
	waiting  *list.Element // in gate.waiting while it waits (under gate.mu)
	first    [1]byte
	buffered bool // first is still to be read; only the reading goroutine touches it
	once     sync.Once
}

func (c *gatedConn) Read(p []byte) (int, error) {
	if c.buffered && len(p) > 0 {
		p[0] = c.first[0]
		c.buffered = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

func (c *gatedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.gate.release(c.ip) })
	return err
}
