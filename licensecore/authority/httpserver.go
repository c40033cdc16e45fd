package authority

import (
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
// an idle connection open is cut off, whoever runs the authority.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 32 << 10
	// MaxConnsPerIP bounds the open connections of one client address: a
	// connection over it is closed at once. A flood that keeps sending
	// whether or not it is answered otherwise opens a connection, and
	// the authority a goroutine, per request it has waiting, without
	// bound, and the authority slows further the more it falls behind.
	// A store keeps one connection; the bound leaves room for many
	// stores behind one address.
	MaxConnsPerIP = 64
)

// HTTPServer returns the http.Server to serve h on addr with: the timeouts
// and header bound above. Bodies are bounded by the handler itself
// (Options.MaxBodyBytes), so every server of Handler has the same limits.
func HTTPServer(h http.Handler, addr string, logger zerolog.Logger) *http.Server {
	conns := &connsByIP{n: make(map[string]int)}
	return &http.Server{
		ConnState:         conns.track,
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
// serve on its listener.
func (s *Server) HTTPServer(addr string) *http.Server {
	return HTTPServer(s.Handler(), addr, s.log)
}

// connsByIP counts the open connections per client address (MaxConnsPerIP).
type connsByIP struct {
	mu sync.Mutex
	n  map[string]int
}

// track is the server's ConnState hook: every new connection counts until
// it is closed (or hijacked), and one over the bound is closed at once.
func (c *connsByIP) track(conn net.Conn, state http.ConnState) {
	var delta int
	switch state {
	case http.StateNew:
		delta = 1
	case http.StateClosed, http.StateHijacked:
		delta = -1
	default:
		return
	}
	ip := conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	c.mu.Lock()
	n := c.n[ip] + delta
	if n <= 0 {
		delete(c.n, ip)
	} else {
		c.n[ip] = n
	}
	c.mu.Unlock()
	if delta > 0 && n > MaxConnsPerIP {
		_ = conn.Close()
	}
}
