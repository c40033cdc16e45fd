package localapi

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/internal/authtest"
)

// agent is the local API in front of a real Manager on a real store, with
// the reference authority on loopback and the server on a Unix socket.
type agent struct {
	ra     *authtest.Authority
	store  *licensecore.Store
	m      *licensecore.Manager
	srv    *Server
	c      *Client
	sock   string
	offset atomic.Int64 // added to the Manager's clock
	// settings is the agent's settings (the app keeps them in the
	// store; this test keeps them in memory); stops counts POST /v1/stop.
	settings *memSettings
	stops    atomic.Int32
}

// memSettings is a SettingsService in memory that passes the trust anchor
// change to the Manager, as the app does.
type memSettings struct {
	m  *licensecore.Manager
	mu sync.Mutex
	v  Settings
}

func (s *memSettings) Settings() (Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.v
	v.AuthorityURL = s.m.AuthorityURL()
	return v, nil
}

func (s *memSettings) SaveSettings(v Settings) error {
	if v.TokenWarnPercent < 0 || v.TokenWarnPercent > 100 {
		return errors.New("the token warning must be 0 to 100 percent")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v = v
	return nil
}

func (s *memSettings) ChangeAuthority(sess *licensecore.AdminSession, url string, root ed25519.PublicKey, repin bool) error {
	return s.m.ChangeAuthority(sess, url, root, repin)
}

func (a *agent) now() time.Time { return time.Now().Add(time.Duration(a.offset.Load())) }

// socketDir is short: a Unix socket's path has at most 107 bytes.
func socketDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "ld")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startAgent(tb testing.TB, lifetime time.Duration) *agent {
	tb.Helper()
	a := &agent{ra: authtest.Start(tb, lifetime, nil)}
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(tb.TempDir(), "store"), Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	a.store = store
	a.m, err = licensecore.NewManager(licensecore.Options{
		Store: store, AuthorityURL: a.ra.URL, Now: a.now, Logger: zerolog.Nop(), Root: a.ra.RootPublicKey(),
		DeviceName: "Test PC", InstallCode: "BCDF-GHJK-LMNP-QRST", HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		tb.Fatal(err)
	}
	a.settings = &memSettings{m: a.m}
	if a.srv, err = NewServer(Options{Manager: a.m, Logger: zerolog.Nop(), Now: a.now, Settings: a.settings,
		Stop: func() { a.stops.Add(1) }}); err != nil {
		tb.Fatal(err)
	}
	a.sock = filepath.Join(socketDir(tb), "agent.sock")
	l, err := Listen(a.sock, "")
	if err != nil {
		tb.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.srv.Serve(l) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if a.c != nil {
			a.c.hc.CloseIdleConnections() // else connections dialled but never used hold Shutdown 5 s
		}
		if err := a.srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("serve: %v", err)
		}
		store.Close()
	})
	if a.c, err = Dial(a.sock); err != nil {
		tb.Fatal(err)
	}
	return a
}

// license acquires the license through the API while the person approves
// the code on the authority's pages.
func (a *agent) license(tb testing.TB) licensecore.Status {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	da, err := a.c.StartDeviceAuth(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	approved := make(chan error, 1)
	go func() { approved <- a.ra.Approve(da.UserCode) }()
	st, err := a.c.CompleteDeviceAuth(ctx, da)
	if err := <-approved; err != nil {
		tb.Fatal(err)
	}
	if err != nil || st.State != licensecore.Licensed {
		tb.Fatalf("acquisition through the API = %v, %v", st.State, err)
	}
	return st
}

// admin creates the administrator and logs in through the API.
func (a *agent) admin(tb testing.TB) *licensecore.AdminSession {
	tb.Helper()
	if err := a.c.CreateAdministrator("root", "correct horse"); err != nil {
		tb.Fatal(err)
	}
	sess, err := a.c.AdminLogin("root", "correct horse")
	if err != nil {
		tb.Fatal(err)
	}
	return sess
}
