package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

// Run is the whole program; it returns the process exit code. With no
// command it opens the window (a client of the agent, started if none
// runs); the commands are listed in commands.
func Run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags("licensedesk", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "licensedesk:", err)
		return 2
	}
	if cfg.Command != "" && cfg.Command != "tray" {
		stdout, stderr = attachConsole(stdout, stderr)
	}
	switch cfg.Command {
	case "":
		return runGUI(cfg, stderr)
	case "agent":
		return runAgent(cfg, stderr)
	case "tray":
		return runTray(cfg, stderr)
	case "status":
		return runStatus(cfg, stdout, stderr)
	case "service":
		return runService(cfg, stdout, stderr)
	}
	return runCLI(cfg, os.Stdin, stdout, stderr)
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
	settings plain.Settings
	demo     *demoAuthority

	wg     sync.WaitGroup // long-lived goroutines
	cancel context.CancelFunc
}

// openCore opens the store (the single-instance lock), settings, the demo
// authority if asked, and the manager.
func openCore(cfg Config, stderr io.Writer) (*core, error) {
	log, lf, err := newLogger(cfg.DataDir, cfg.LogLevel, stderr, "licensedesk.log")
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

func alreadyRunning(err error) bool { return errors.Is(err, licensecore.ErrAlreadyRunning) }
