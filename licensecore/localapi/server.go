package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
)

// Options configure a Server. Manager is required; the others default to
// the Manager's own.
type Options struct {
	Manager *licensecore.Manager
	Admins  *licensecore.Admins  // default Manager.Admins()
	Pool    *licensecore.Pool    // default licensecore.NewPool(Manager)
	HandOff *licensecore.HandOff // default licensecore.NewHandOff(Manager)
	Logger  zerolog.Logger
	Now     func() time.Time // default time.Now; only long-poll deadlines use it
	// Refresh renews the token for POST /v1/refresh: the agent passes its
	// refresher's kick so a refresh from a client and one from the timer
	// never overlap. Default Manager.RefreshNow.
	Refresh func(ctx context.Context) (licensecore.Status, error)
	// MaxWait bounds a long poll's wait= (default 5 minutes); DefaultWait
	// is the wait without one (default 60 seconds).
	MaxWait, DefaultWait time.Duration
	// Settings serves /v1/settings (nil: none).
	Settings SettingsService
	// Stop ends the agent for POST /v1/stop (nil: refused).
	Stop func()
}

// Body limits: a license file may be large (base64 in JSON), nothing else
// is.
const (
	maxBody     = 64 << 10
	maxFileBody = 4 << 20
)

// Server serves the local API. Create it with NewServer, run it with
// Serve, and call Publish after every change of the license the agent
// makes on its own (a background refresh), so long polls wake.
type Server struct {
	opts Options
	mux  *http.ServeMux
	http *http.Server

	mu      sync.Mutex
	rev     uint64
	changed chan struct{} // closed and replaced by Publish
	quit    chan struct{} // closed by Shutdown: long polls answer at once
	devices map[string]*licensecore.DeviceAuthorization
	// notices for the tray (Notify), newest last, and the last number.
	notices   []Notice
	noticeSeq uint64
}

// route is one operation of the API. Exactly one of answer and stream is
// set: answer's value is written as JSON (204 when nil), stream writes
// its answer itself. Timeout bounds writing the answer; long operations
// get longer ones.
type route struct {
	method, path string
	timeout      time.Duration
	limit        int64
	answer       func(s *Server, r *http.Request) (any, error)
	stream       func(s *Server, w http.ResponseWriter, r *http.Request) error
}

// NewServer builds the server over opts.Manager.
func NewServer(opts Options) (*Server, error) {
	if opts.Manager == nil {
		return nil, errors.New("localapi: the server needs a Manager")
	}
	if opts.Admins == nil {
		opts.Admins = opts.Manager.Admins()
	}
	if opts.Pool == nil {
		opts.Pool = licensecore.NewPool(opts.Manager)
	}
	if opts.HandOff == nil {
		opts.HandOff = licensecore.NewHandOff(opts.Manager)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Refresh == nil {
		opts.Refresh = opts.Manager.RefreshNow
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 5 * time.Minute
	}
	if opts.DefaultWait <= 0 {
		opts.DefaultWait = min(time.Minute, opts.MaxWait)
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), changed: make(chan struct{}), quit: make(chan struct{}),
		devices: map[string]*licensecore.DeviceAuthorization{}}
	for _, rt := range routes {
		s.mux.Handle(rt.method+" "+rt.path, s.handler(rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, fmt.Errorf("%w: %s %s", ErrNoRoute, r.Method, r.URL.Path))
	})
	s.http = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 0, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: nil, ConnContext: withConn}
	return s, nil
}

// ServeHTTP serves one request (tests and embedding in another server).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve answers on l until Shutdown; it returns http.ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error { return s.http.Serve(l) }

// Shutdown answers the waiting long polls, then stops as http.Server's
// Shutdown does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.mu.Unlock()
	return s.http.Shutdown(ctx)
}

// Publish tells the server the license changed (st is its new status):
// the revision advances and every long poll re-checks.
func (s *Server) Publish(licensecore.Status) {
	s.mu.Lock()
	s.rev++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// revision is the current revision and the channel that closes when it
// advances.
func (s *Server) revision() (uint64, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, s.changed
}

// wait blocks until done reports true after a change, the wait ends, the
// client leaves or the server shuts down.
func (s *Server) wait(ctx context.Context, d time.Duration, done func() (bool, error)) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		_, ch := s.revision()
		if ok, err := done(); ok || err != nil {
			return err
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil
		case <-s.quit:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitParam reads wait= (a Go duration such as 30s, or seconds), bounded
// by MaxWait.
func (s *Server) waitParam(r *http.Request) (time.Duration, error) {
	raw := r.URL.Query().Get("wait")
	if raw == "" {
		return s.opts.DefaultWait, nil
	}
	d, err := time.ParseDuration(raw)
	if n, nerr := strconv.Atoi(raw); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: wait=%q is not a duration", ErrBadRequest, raw)
	}
	return min(d, s.opts.MaxWait), nil
}

func (s *Server) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		timeout := rt.timeout
		if timeout == 0 {
			timeout = time.Minute
		}
		if rt.path == "/v1/status" || rt.path == "/v1/token" || rt.path == "/v1/notices" {
			timeout += s.opts.MaxWait
		}
		_ = http.NewResponseController(w).SetWriteDeadline(start.Add(timeout))
		limit := rt.limit
		if limit == 0 {
			limit = maxBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var err error
		if rt.stream != nil {
			err = rt.stream(s, w, r)
		} else {
			var out any
			if out, err = rt.answer(s, r); err == nil {
				writeJSON(w, http.StatusOK, out)
			}
		}
		if err != nil {
			s.fail(w, r, err)
		}
		s.opts.Logger.Debug().Str("method", r.Method).Str("path", r.URL.Path).Dur("took", time.Since(start)).Err(err).Msg("local API")
	})
}

// fail writes err in the one error shape.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	b, status := encodeError(err)
	if status >= 500 && !errors.Is(err, licensecore.ErrAuthorityDown) {
		s.opts.Logger.Warn().Err(err).Str("path", r.URL.Path).Msg("local API request failed")
	}
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads the request's JSON body into v strictly: one object, no
// unknown fields, within the route's limit.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return fmt.Errorf("%w: the body is larger than %d bytes", ErrBadRequest, mbe.Limit)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the body is empty", ErrBadRequest)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

// session is the administrator session whose token the request carries
// (Authorization: Bearer), nil without one: the Manager then refuses a
// protected change with ErrAdminRequired itself.
func (s *Server) session(r *http.Request) (*licensecore.AdminSession, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return nil, fmt.Errorf("%w: the Authorization header is not a bearer token", licensecore.ErrAdminRequired)
	}
	return s.opts.Admins.Session(strings.TrimSpace(tok))
}

// status answers a status and publishes it: the change came through the
// API.
func (s *Server) status(st licensecore.Status, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	s.Publish(st)
	rev, _ := s.revision()
	return statusDoc(st, rev), nil
}
