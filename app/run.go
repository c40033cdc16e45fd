package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
	"licensedesk/screens"
)

// Run is the whole program: `licensedesk [flags]` opens the window,
// `licensedesk status [--json]` prints the license status. It returns the
// process exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	name := "licensedesk"
	status := len(args) > 0 && args[0] == "status"
	if status {
		args = args[1:]
	}
	cfg, err := parseFlags(name, args, stderr)
	if err != nil {
		return 2
	}
	if status {
		return runStatus(cfg, stdout, stderr)
	}
	return runGUI(cfg, stderr)
}

// core is everything below the UI: built first, closed last.
type core struct {
	cfg     Config
	log     zerolog.Logger
	logFile io.Closer
	store   *licensecore.Store
	clock   *licensecore.TrustedClock // saved last, before the store closes
	mgr     *licensecore.Manager
	admins  *licensecore.Admins // the administrator role guarding mgr and pool
	pool    *licensecore.Pool
	// keysIn says where the store and install keys are kept (Settings):
	// a credential store's name, licensecore.SecretsKindFile or "plain file".
	keysIn   string
	settings screens.Settings
	demo     *demoAuthority
	ipc      net.Listener

	wg     sync.WaitGroup // long-lived goroutines
	cancel context.CancelFunc
}

// openCore opens the store (the single-instance lock), settings, the demo
// authority if asked, and the manager.
func openCore(cfg Config, stderr io.Writer) (*core, error) {
	log, lf, err := newLogger(cfg.DataDir, cfg.LogLevel, stderr)
	if err != nil {
		return nil, fmt.Errorf("cannot write the log in %s: %w", cfg.DataDir, err)
	}
	c := &core{cfg: cfg, log: log, logFile: lf}
	keys := chooseKeys(cfg.DataDir, log)
	c.store, err = licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(cfg.DataDir, "store"), Secrets: keys.secrets, Logger: log})
	if err != nil {
		lf.Close()
		return nil, err
	}
	keys.opened(log)
	c.keysIn = keys.kind()
	if c.settings, err = loadSettings(c.store); err != nil {
		c.close()
		return nil, err
	}
	machine, err := licensecore.MachineID(c.store)
	if err != nil {
		c.close()
		return nil, err
	}
	install := licensecore.InstallCode(machine)
	authorityURL := c.settings.AuthorityURL
	if cfg.AuthorityURL != "" {
		authorityURL = cfg.AuthorityURL
	}
	if cfg.Demo {
		c.demo, err = startDemo(cfg, log, cfg.DeviceName, install)
		if err != nil {
			c.close()
			return nil, err
		}
		authorityURL = c.demo.url
		fmt.Fprintf(stderr, "\nDemo Authorization server: %s\n  log in as %q with password %q, organization %q\n  Customer ID for cloud licenses: %s\n\n",
			c.demo.url, c.demo.user, c.demo.password, c.demo.org, authority.DemoCustomerID)
	}
	root, err := configuredRoot(cfg, c.demo)
	if err != nil {
		c.close()
		return nil, err
	}
	policy := policyOf(c.settings)
	if c.clock, err = licensecore.NewTrustedClock(c.store, time.Now, policy.ClockTolerance); err != nil {
		c.close()
		return nil, err
	}
	c.mgr, err = licensecore.NewManager(licensecore.Options{
		Store: c.store, AuthorityURL: authorityURL, Policy: policy, Logger: log, Clock: c.clock,
		DeviceName: cfg.DeviceName, InstallCode: install, Root: root,
	})
	if err != nil {
		c.close()
		return nil, err
	}
	c.admins, c.pool = c.mgr.Admins(), licensecore.NewPool(c.mgr)
	return c, nil
}

// configuredRoot is the root key the installer configured: the demo
// authority's own in demo mode (pinned explicitly), else -root-key. Nil
// means "use the pinned one".
func configuredRoot(cfg Config, demo *demoAuthority) (ed25519.PublicKey, error) {
	switch {
	case demo != nil:
		return demo.srv.RootPublicKey(), nil
	case cfg.RootKey != "":
		return wire.ParseRootKey(cfg.RootKey)
	}
	return nil, nil
}

// close stops goroutines, then the demo authority, then the store: the
// reverse of opening.
func (c *core) close() {
	if c.cancel != nil {
		c.cancel()
	}
	if c.ipc != nil {
		c.ipc.Close()
	}
	c.wg.Wait()
	if c.demo != nil {
		if err := c.demo.close(); err != nil {
			c.log.Warn().Err(err).Msg("demo authority did not close cleanly")
		}
	}
	if c.clock != nil {
		_ = c.clock.Save()
	}
	if c.store != nil {
		if err := c.store.Close(); err != nil {
			c.log.Warn().Err(err).Msg("store did not close cleanly")
		}
	}
	if c.logFile != nil {
		c.logFile.Close()
	}
}

// go starts a long-lived goroutine that Close waits for.
func (c *core) goLong(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// already-running handling: the first instance listens on a Unix socket
// in the data dir; a second one asks it to show its window, says so, and
// exits 0.
const ipcSocket = "licensedesk.sock"

func pokeRunningInstance(dataDir string) bool {
	conn, err := net.DialTimeout("unix", filepath.Join(dataDir, ipcSocket), time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_, err = conn.Write([]byte("show\n"))
	return err == nil
}

func (c *core) listenIPC(show func()) {
	path := filepath.Join(c.cfg.DataDir, ipcSocket)
	_ = os.Remove(path) // stale socket of a crashed instance; the store lock proves we are alone
	l, err := net.Listen("unix", path)
	if err != nil {
		c.log.Warn().Err(err).Msg("second-instance socket unavailable")
		return
	}
	c.ipc = l
	c.goLong(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 8)
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := conn.Read(buf)
			conn.Close()
			if string(buf[:n]) == "show\n" {
				show()
			}
		}
	})
}

func alreadyRunning(err error) bool { return errors.Is(err, licensecore.ErrAlreadyRunning) }
