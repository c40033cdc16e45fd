package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/localapi"
	"licensedesk/screens/plain"
)

// agentSocket is the local API's socket in the data directory (a per-user
// agent); a system service names its own with -socket.
const agentSocket = "agent.sock"

// agentGroup may read tokens through a system agent's socket.
const agentGroup = "licensedesk"

// agent is the one owner of the store: the refresher, the notices and the
// local API every other process (window, tray, CLI, POS server) uses. It
// never opens a window.
type agent struct {
	c     *core
	api   *localapi.Server
	ref   *refresher
	notes *notifier
	snap  snapshotWriter
}

func runAgent(cfg Config, stderr io.Writer) int { return runAgentMaybeService(cfg, stderr) }

// serveAgent runs the agent until a signal, `licensedesk stop`, or stop
// (the service manager's request; nil in the foreground). ready, if not
// nil, is called once the local API listens: the service manager's
// Running (and the log says that the agent runs as a service).
func serveAgent(cfg Config, stderr io.Writer, stop <-chan struct{}, ready func()) int {
	c, err := openCore(cfg, stderr)
	if alreadyRunning(err) {
		fmt.Fprintf(stderr, "Another License Desk agent already uses %s.\n", cfg.DataDir)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "License Desk agent cannot start: %s\n(%v)\n", plain.Explain(err), err)
		return 1
	}
	defer c.close()
	l, err := localapi.Listen(cfg.Socket, agentGroup)
	if err != nil {
		fmt.Fprintf(stderr, "License Desk agent cannot open its socket %s: %v\n", cfg.Socket, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	a := &agent{c: c}
	a.notes = &notifier{store: c.store, log: c.log, send: func(title, body string) { a.api.Notify(title, body) }}
	a.ref = newRefresher(c.mgr, c.log, a.publish)
	a.ref.tick = cfg.StatusTick
	if a.api, err = localapi.NewServer(localapi.Options{
		Manager: c.mgr, Admins: c.admins, Pool: c.pool, Logger: c.log,
		Settings: &settingsService{c: c, publish: a.publish},
		Stop:     cancel,
	}); err != nil {
		l.Close()
		fmt.Fprintf(stderr, "License Desk agent cannot start: %v\n", err)
		return 1
	}
	a.publish(c.mgr.Status())
	c.goLong(func() { a.ref.run(ctx) })
	c.goLong(func() {
		if err := a.api.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error().Err(err).Msg("local API stopped")
			cancel()
		}
	})
	c.goLong(func() {
		// Deliver pool operations a crash or a lost connection left
		// half-done, so this server and the cloud pool agree.
		rctx, rcancel := context.WithTimeout(ctx, time.Minute)
		defer rcancel()
		if err := c.pool.ReconcilePool(rctx); err != nil && !errors.Is(err, licensecore.ErrNoCustomerID) {
			c.log.Info().Err(err).Msg("cloud pool not reconciled at start-up; retried on the next pool action")
		}
	})
	c.log.Info().Str("socket", cfg.Socket).Int("pid", os.Getpid()).Bool("service", ready != nil).Msg("agent started")
	// For service managers and scripts; the store's lock, not this file,
	// is what keeps a second agent out.
	pidFile := filepath.Join(cfg.DataDir, "agent.pid")
	if err := licensecore.WriteFileAtomic(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n")); err == nil {
		defer os.Remove(pidFile)
	}
	if ready != nil {
		ready()
	}
	// Logout, shutdown and `licensedesk stop` end the agent in order, so
	// the store closes cleanly and the trusted clock is saved.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		c.log.Info().Str("signal", s.String()).Msg("agent stopping on signal")
	case <-stop:
		c.log.Info().Msg("agent stopping at the service manager's request")
	case <-ctx.Done():
		c.log.Info().Msg("agent stopping")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = a.api.Shutdown(sctx)
	cancel()
	return 0
}

// publish is the agent's one outlet for a new status: the API's long polls,
// the notices and the status file, from any goroutine.
func (a *agent) publish(st licensecore.Status) {
	a.api.Publish(st)
	a.notes.check(st, a.c.mgr.Policy())
	if err := a.snap.write(a.c.cfg.DataDir, st, a.c.mgr.Policy()); err != nil {
		a.c.log.Warn().Err(err).Msg("could not write the status file")
	}
}
