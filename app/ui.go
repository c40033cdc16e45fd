package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/data/binding"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"

	"licensedesk/assets"
	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens"
)

var (
	_ screens.LicenseService   = (*licensecore.Manager)(nil)
	_ screens.LifecycleService = (*licensecore.Manager)(nil)
	_ screens.OfflineService   = (*licensecore.Manager)(nil)
	_ screens.AdminService     = (*licensecore.Admins)(nil)
	_ screens.AccountService   = (*licensecore.Pool)(nil)
	_ screens.PoolService      = (*licensecore.Pool)(nil)
	_ refreshService           = (*licensecore.Manager)(nil)
)

// AppID is the Fyne application id (also in FyneApp.toml).
const AppID = "com.licensedesk.app"

// WindowTitle is what tests and window managers look for.
const WindowTitle = "License Desk"

// gui holds the Fyne side. Fields are touched only on the Fyne thread
// (inside fyne.Do or callbacks), except status, a binding any goroutine may
// Set, and snap, which locks itself.
type gui struct {
	c      *core
	app    fyne.App
	win    fyne.Window
	status binding.Item[licensecore.Status]
	ctx    context.Context
	ref    *refresher
	notes  *notifier
	snap   snapshotWriter // has its own lock: publish runs on any goroutine
	gate   *screens.AdminGate
	tray   desktop.App // nil without a tray
	lastUI int         // -1 forces the first content build
	// endScreen cancels the current screen's background work (the
	// wizard's poll and countdown) when another screen replaces it.
	endScreen context.CancelFunc
}

func runGUI(cfg Config, stderr io.Writer) int {
	c, err := openCore(cfg, stderr)
	if alreadyRunning(err) {
		msg := "License Desk is already running."
		if pokeRunningInstance(cfg.DataDir) {
			msg += " Its window has been brought to the front."
		}
		fmt.Fprintln(stderr, msg)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "License Desk cannot start: %s\n(%v)\n", screens.Explain(err), err)
		return 1
	}
	defer c.close()

	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	g := &gui{c: c, ctx: ctx, lastUI: -1}
	g.app = fyneapp.NewWithID(AppID)
	g.app.SetIcon(assets.AppIcon)
	g.win = g.app.NewWindow(WindowTitle)
	g.win.SetIcon(assets.AppIcon)
	g.win.Resize(fyne.NewSize(780, 600))
	g.status = screens.NewStatusBinding(c.mgr.Status())
	g.notes = &notifier{store: c.store, log: c.log, send: func(title, body string) {
		g.app.SendNotification(fyne.NewNotification(title, body))
	}}
	g.ref = newRefresher(c.mgr, c.log, g.publish)
	g.ref.report = g.reportRefresh
	g.gate = screens.NewAdminGate(c.admins, g.win)
	if cfg.StatusTick > 0 {
		g.ref.tick = cfg.StatusTick
	}
	g.status.AddListener(binding.NewDataListener(g.onStatus))

	if d, ok := g.app.(desktop.App); ok {
		g.tray = d
		d.SetSystemTrayIcon(assets.TrayUnlicensed)
		d.SetSystemTrayWindow(g.win)
		// Closing the window hides it: the tray keeps the license watched.
		g.win.SetCloseIntercept(g.win.Hide)
	}
	g.win.SetMainMenu(g.mainMenu())
	g.publish(c.mgr.Status())
	// Build the content now, before the window is shown, rather than when
	// the binding's listener first runs: the license is then on screen as
	// soon as the window maps.
	g.onStatus()
	c.listenIPC(func() { fyne.Do(g.showWindow) })
	c.goLong(func() { g.ref.run(ctx) })
	c.goLong(func() {
		// Deliver pool operations a crash or a lost connection left
		// half-done, so this server and the cloud pool agree.
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := c.pool.ReconcilePool(rctx); err != nil && !errors.Is(err, licensecore.ErrNoCustomerID) {
			c.log.Info().Err(err).Msg("cloud pool not reconciled at start-up; retried on the next pool action")
		}
	})
	// Logout and shutdown send SIGTERM: quit in order, so the store closes
	// cleanly and the trusted clock is saved.
	c.goLong(func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
		defer signal.Stop(sigs)
		select {
		case s := <-sigs:
			c.log.Info().Str("signal", s.String()).Msg("quitting on signal")
			fyne.Do(g.app.Quit)
		case <-ctx.Done():
		}
	})

	if cfg.StartMinimized || c.settings.StartMinimized {
		if g.tray == nil {
			g.win.Show() // no tray: hiding would leave nothing to click
		}
		g.app.Run()
	} else {
		g.win.ShowAndRun()
	}
	cancel()
	return 0
}

// publish is safe from any goroutine: the binding notifies listeners on
// the Fyne thread.
func (g *gui) publish(st licensecore.Status) {
	g.status.Set(st)
	g.notes.check(st, g.c.mgr.Policy())
	if err := g.snap.write(g.c.cfg.DataDir, st, g.c.mgr.Policy()); err != nil {
		g.c.log.Warn().Err(err).Msg("could not write the status file")
	}
}

// onStatus runs on the Fyne thread after every publish.
func (g *gui) onStatus() {
	st, err := g.status.Get()
	if err != nil {
		return
	}
	g.setContent(st)
	g.updateTray(st)
}

func (g *gui) setContent(st licensecore.Status) {
	want := 0
	if st.State != licensecore.Unlicensed {
		want = 1
	}
	if want == g.lastUI {
		return
	}
	g.lastUI = want
	if g.endScreen != nil {
		g.endScreen()
	}
	var ctx context.Context
	ctx, g.endScreen = context.WithCancel(g.ctx)
	if want == 1 {
		// Licensed: the details first, the lifecycle screens a tab away.
		// Only the details are built now; each other tab is built when it
		// is first opened, which keeps start-up time and memory down.
		g.win.SetContent(lazyTabs(
			lazyTab{"License", theme.InfoIcon(), func() fyne.CanvasObject { return screens.NewDetails(ctx, g.c.mgr, g.status, g.app) }},
			lazyTab{"Manage license", theme.SettingsIcon(), func() fyne.CanvasObject {
				return screens.NewManage(ctx, g.c.mgr, g.gate, g.win, g.status, g.app, g.publish)
			}},
			lazyTab{"Offline activation", theme.MailSendIcon(), func() fyne.CanvasObject { return g.offlineScreen(ctx) }},
			lazyTab{"Customer account", theme.AccountIcon(), func() fyne.CanvasObject { return screens.NewAccount(ctx, g.c.pool, g.gate) }},
			lazyTab{"Cloud licenses", theme.StorageIcon(), func() fyne.CanvasObject { return screens.NewPool(ctx, g.c.pool, g.gate, g.win) }},
		))
		return
	}
	// Not licensed: the wizard has the whole window; offline activation is
	// in the License menu.
	g.win.SetContent(screens.NewWizard(ctx, g.c.mgr, g.app, func(st licensecore.Status) {
		g.publish(st)
		g.ref.Kick()
	}))
}

func (g *gui) offlineScreen(ctx context.Context) fyne.CanvasObject {
	home, err := os.UserHomeDir()
	if err != nil {
		home = g.c.cfg.DataDir
	}
	return screens.NewOffline(ctx, g.c.mgr, g.gate, g.win, g.status, g.publish, home)
}

// lazyTab is a tab whose screen is built on first selection.
type lazyTab struct {
	title string
	icon  fyne.Resource
	build func() fyne.CanvasObject
}

func lazyTabs(tabs ...lazyTab) *container.AppTabs {
	items := make([]*container.TabItem, len(tabs))
	built := make([]bool, len(tabs))
	for i, t := range tabs {
		items[i] = container.NewTabItemWithIcon(t.title, t.icon, container.NewVScroll(container.NewVBox()))
	}
	at := container.NewAppTabs(items...)
	open := func(i int) {
		if built[i] {
			return
		}
		built[i] = true
		items[i].Content.(*container.Scroll).Content = tabs[i].build()
		items[i].Content.Refresh()
	}
	at.OnSelected = func(ti *container.TabItem) {
		for i := range items {
			if items[i] == ti {
				open(i)
			}
		}
	}
	open(0)
	return at
}

// showExtra opens a screen in its own window (from the License menu, for a
// server that is not licensed yet, while the wizard has the main window).
func (g *gui) showExtra(title string, build func(ctx context.Context, w fyne.Window, gate *screens.AdminGate) fyne.CanvasObject) {
	w := g.app.NewWindow("License Desk – " + title)
	ctx, cancel := context.WithCancel(g.ctx)
	w.SetOnClosed(cancel)
	w.SetContent(container.NewPadded(container.NewVScroll(build(ctx, w, screens.NewAdminGate(g.c.admins, w)))))
	w.Resize(fyne.NewSize(640, 600))
	w.Show()
}

func (g *gui) showOffline() {
	g.showExtra("Offline activation", func(ctx context.Context, w fyne.Window, gate *screens.AdminGate) fyne.CanvasObject {
		return screens.NewOffline(ctx, g.c.mgr, gate, w, g.status, func(st licensecore.Status) {
			g.publish(st)
			if st.State != licensecore.Unlicensed {
				w.Close()
			}
		}, g.c.cfg.DataDir)
	})
}

func (g *gui) showAccount() {
	g.showExtra("Customer account", func(ctx context.Context, _ fyne.Window, gate *screens.AdminGate) fyne.CanvasObject {
		return screens.NewAccount(ctx, g.c.pool, gate)
	})
}

func (g *gui) showPool() {
	g.showExtra("Cloud licenses", func(ctx context.Context, w fyne.Window, gate *screens.AdminGate) fyne.CanvasObject {
		return screens.NewPool(ctx, g.c.pool, gate, w)
	})
}

func (g *gui) updateTray(st licensecore.Status) {
	if g.tray == nil {
		return
	}
	now := time.Now()
	_, state := screens.TrayStatus(st, now)
	g.tray.SetSystemTrayIcon(state.Icon())
	g.tray.SetSystemTrayMenu(screens.NewTrayMenu(st, now, screens.TrayActions{
		Open:    g.showWindow,
		Refresh: g.ref.KickAndReport,
		Quit:    g.app.Quit,
	}))
}

func (g *gui) showWindow() {
	g.win.Show()
	g.win.RequestFocus()
}

// reportRefresh tells the outcome of the tray's "Refresh tokens now" as a
// notification, since the window may be hidden. The refresher calls it.
func (g *gui) reportRefresh(st licensecore.Status, err error) {
	if err == nil && st.License == nil {
		err = licensecore.ErrNotLicensed
	}
	if err != nil {
		g.app.SendNotification(fyne.NewNotification("Token refresh failed", screens.Explain(err)))
		return
	}
	g.c.log.Info().Time("token_expiry", st.License.TokenExpiry).Msg("token refreshed from the tray")
	g.app.SendNotification(fyne.NewNotification("License token refreshed",
		"New token valid until "+st.License.TokenExpiry.Local().Format("Mon 2 Jan 15:04")+"."))
}

func (g *gui) mainMenu() *fyne.MainMenu {
	settings := fyne.NewMenuItem("Settings…", g.showSettings)
	refresh := fyne.NewMenuItem("Refresh tokens now", func() { g.ref.Kick() })
	offline := fyne.NewMenuItem("Offline activation…", g.showOffline)
	account := fyne.NewMenuItem("Customer account…", g.showAccount)
	pool := fyne.NewMenuItem("Cloud licenses…", g.showPool)
	return fyne.NewMainMenu(fyne.NewMenu("License Desk", refresh, settings), fyne.NewMenu("License", offline, account, pool))
}

func (g *gui) showSettings() {
	w := g.app.NewWindow("License Desk – Settings")
	gate := screens.NewAdminGate(g.c.admins, w)
	w.SetContent(container.NewPadded(screens.NewSettings(g.currentSettings(), func(next screens.Settings) error {
		return g.applySettings(next, gate, w)
	})))
	w.Resize(fyne.NewSize(560, 460))
	w.Show()
}

// currentSettings are the saved settings with the trust anchor in force.
func (g *gui) currentSettings() screens.Settings {
	s := g.c.settings
	s.AuthorityURL = g.c.mgr.AuthorityURL()
	if root := g.c.mgr.Root(); root != nil {
		s.RootKey = wire.EncodeRootKey(root)
	}
	s.KeyStorage = g.c.keysIn
	return s
}

// applySettings applies and persists new settings. The thresholds change
// at once; the Authorization server and its root key are the trust anchor,
// so they change only through an administrator (licensecore enforces it),
// and a new root only after the person confirmed both fingerprints.
func (g *gui) applySettings(next screens.Settings, gate *screens.AdminGate, w fyne.Window) error {
	cur := g.currentSettings()
	anchorChanged := next.AuthorityURL != cur.AuthorityURL || next.RootKey != cur.RootKey
	if g.c.demo != nil && anchorChanged {
		return fmt.Errorf("in demo mode the Authorization server is the built-in one (%s)", g.c.demo.url)
	}
	if err := g.c.mgr.SetPolicy(policyOf(next)); err != nil {
		return err
	}
	keep := next
	keep.AuthorityURL = g.c.settings.AuthorityURL
	if err := saveSettings(g.c.store, keep); err != nil {
		return err
	}
	g.c.settings = keep
	g.publish(g.c.mgr.Status())
	if anchorChanged {
		g.changeAuthority(next, cur, gate, w)
	}
	return nil
}

// changeAuthority asks for an administrator (and, for a new root, a
// confirmation showing both fingerprints), then changes the trust anchor
// and saves the address.
func (g *gui) changeAuthority(next, cur screens.Settings, gate *screens.AdminGate, w fyne.Window) {
	var root ed25519.PublicKey
	if next.RootKey != "" {
		var err error
		if root, err = wire.ParseRootKey(next.RootKey); err != nil {
			dialog.ShowError(errors.New(screens.Explain(err)), w)
			return
		}
	}
	gate.Do("Change the Authorization server", func(sess *licensecore.AdminSession) {
		apply := func(repin bool) {
			if err := g.c.mgr.ChangeAuthority(sess, next.AuthorityURL, root, repin); err != nil {
				dialog.ShowError(errors.New(screens.Explain(err)), w)
				return
			}
			g.c.settings.AuthorityURL = next.AuthorityURL
			if err := saveSettings(g.c.store, g.c.settings); err != nil {
				dialog.ShowError(errors.New(screens.Explain(err)), w)
				return
			}
			g.publish(g.c.mgr.Status())
			dialog.ShowInformation("Authorization server changed", "License Desk now trusts "+next.AuthorityURL+".", w)
		}
		if next.RootKey == cur.RootKey || cur.RootKey == "" {
			apply(false)
			return
		}
		old, _ := wire.ParseRootKey(cur.RootKey)
		dialog.ShowConfirm("Trust a new root key?", screens.RepinQuestion(old, root), apply, w)
	})
}
