package authority

import (
	"log"
	"net/http"
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
// serve on its listener.
func (s *Server) HTTPServer(addr string) *http.Server {
	return HTTPServer(s.Handler(), addr, s.log)
}
