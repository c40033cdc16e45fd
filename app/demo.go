package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
)

// demoAuthority is the reference Authorization server running inside the
// app on loopback, so a newcomer can walk the whole wizard on one PC.
type demoAuthority struct {
	url                 string
	user, password, org string
	srv                 *authority.Server
	http                *http.Server
	done                chan error
}

func startDemo(cfg Config, log zerolog.Logger, deviceName, installCode string) (*demoAuthority, error) {
	l, err := net.Listen("tcp", cfg.DemoAddr)
	if err != nil {
		return nil, fmt.Errorf("the demo Authorization server cannot listen on %s (is another License Desk demo running?): %w", cfg.DemoAddr, err)
	}
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		l.Close()
		return nil, errors.New("the demo Authorization server only listens on a loopback address")
	}
	base := "http://" + l.Addr().String()
	opts := authority.Options{
		DataDir: filepath.Join(cfg.DataDir, "demo-authority"),
		Issuer:  base,
		Logger:  log.With().Str("component", "demo-authority").Logger(),
	}
	srv, err := authority.New(opts)
	if errors.Is(err, authority.ErrStoreKey) || errors.Is(err, authority.ErrNoRoot) {
		// Demo data of a version before keys at rest: it is disposable,
		// so it is made again (with a new root, pinned by this first start).
		log.Warn().Err(err).Msg("demo authority data is from an older version; starting it afresh")
		for _, p := range []string{opts.DataDir, opts.DataDir + ".key", opts.DataDir + ".root"} {
			_ = os.RemoveAll(p)
		}
		srv, err = authority.New(opts)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	this := authority.DeviceSeed{
		ServerID:      "POS-" + strings.ReplaceAll(installCode, "-", "")[:8],
		Name:          deviceName,
		InstallCode:   installCode,
		HubServerName: "hub-demo",
		HubServerURL:  "https://hub-demo.example.com",
		Features:      []string{"xms"},
	}
	if err := srv.Seed(authority.DemoSeed(this)); err != nil {
		srv.Close()
		l.Close()
		return nil, err
	}
	d := &demoAuthority{
		url: base, user: authority.DemoUsername, password: authority.DemoPassword, org: authority.DemoOrganization,
		srv: srv, http: srv.HTTPServer(l.Addr().String()), done: make(chan error, 1),
	}
	go func() { d.done <- d.http.Serve(srv.Listener(l)) }()
	return d, nil
}

func (d *demoAuthority) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := d.http.Shutdown(ctx)
	if serr := <-d.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return errors.Join(err, d.srv.Close())
}
