//go:build !headless

package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/data/binding"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"github.com/rs/zerolog"

	"licensedesk/assets"
	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/localapi"
	"licensedesk/licensecore/wire"
	"licensedesk/screens"
	"licensedesk/screens/plain"
)

// windowBuilt: this build has the window.
const windowBuilt = true

// wizardGrace is how long a license the agent announces waits for the
// wizard's own confirmation before it replaces the wizard.
const wizardGrace = 2 * time.Second

// gui is the window process: a client of the agent, which owns the store
// and the refresher. Fields are touched only on the Fyne thread (inside
// fyne.Do or callbacks), except status, a binding any goroutine may Set.
type gui struct {
	cfg    Config
	log    zerolog.Logger
	cl     *localapi.Client
	app    fyne.App
	win    fyne.Window
	status binding.Item[licensecore.Status]
	ctx    context.Context
	gate   *screens.AdminGate
	lastUI int // -1 forces the first content build
	// confirming: the wizard shows its "Licensed" confirmation; deferred:
	// a license arrived and the wizard has wizardGrace to confirm it.
	confirming, deferred bool
	// endScreen cancels the current screen's background work (the
	// wizard's poll and countdown) when another screen replaces it.
	endScreen context.CancelFunc
}

func runGUI(cfg Config, stderr io.Writer) int {
	if !haveDisplay() {
		fmt.Fprintln(stderr, "License Desk needs a desktop session to open its window (no display found).\n"+
			"On a PC without one, use the command line: `licensedesk status`, `licensedesk login`, `licensedesk token`.")
		return 1
	}
	log, lf, err := newLogger(cfg.DataDir, cfg.LogLevel, stderr, "window.log")
	if err != nil {
		fmt.Fprintf(stderr, "License Desk cannot write its log in %s: %v\n", cfg.DataDir, err)
		return 1
	}
	defer lf.Close()
	g := &gui{cfg: cfg, log: log, lastUI: -1}
	var shown atomic.Bool
	inst, err := claimInstance(filepath.Join(cfg.DataDir, windowSocket), func() {
		if shown.Load() {
			fyne.Do(g.showWindow)
		}
	})
	if errors.Is(err, errInstanceRunning) {
		fmt.Fprintln(stderr, "License Desk is already running. Its window has been brought to the front.")
		return 0
	}
	if err != nil {
		log.Warn().Err(err).Msg("second-instance socket unavailable")
	} else {
		defer inst.Close()
	}
	// The agent's answer and Fyne's start-up overlap: the window needs both,
	// and neither needs the other.
	type agentReply struct {
		cl    *localapi.Client
		first licensecore.Status
		rev   uint64
		err   error
	}
	reply := make(chan agentReply, 1)
	go func() {
		var r agentReply
		if r.cl, r.err = ensureAgent(cfg, log); r.err == nil {
			r.first, r.rev, r.err = r.cl.WaitStatus(context.Background(), 0, 0)
		}
		reply <- r
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.ctx = ctx
	g.app = fyneapp.NewWithID(AppID)
	icon := fyne.NewStaticResource("icon.png", assets.AppIcon())
	g.app.SetIcon(icon)
	g.win = g.app.NewWindow(WindowTitle)
	g.win.SetIcon(icon)
	g.win.Resize(fyne.NewSize(780, 600))

	r := <-reply
	if r.err != nil {
		fmt.Fprintf(stderr, "License Desk cannot start: %s\n(%v)\n", plain.Explain(r.err), r.err)
		return 1
	}
	g.cl = r.cl
	first, rev := r.first, r.rev
	go func() {
		startTray(cfg, log)
		if set, err := g.cl.Settings(ctx); err == nil && set.DemoAuthority != "" {
			fmt.Fprintf(stderr, "\nDemo Authorization server: %s\n  log in as %q with password %q, organization %q\n  Customer ID for cloud licenses: %s\n\n",
				set.DemoAuthority, authority.DemoUsername, authority.DemoPassword, authority.DemoOrganization, authority.DemoCustomerID)
		}
	}()
	g.status = screens.NewStatusBinding(first)
	g.gate = screens.NewAdminGate(g.cl, g.win)
	g.status.AddListener(binding.NewDataListener(g.onStatus))
	g.win.SetMainMenu(g.mainMenu())
	// Build the content now, before the window is shown, rather than when
	// the binding's listener first runs: the license is then on screen as
	// soon as the window maps.
	g.onStatus()
	go g.followStatus(rev)
	go func() {
		// Logout and shutdown send SIGTERM: close the window in order.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
		defer signal.Stop(sigs)
		select {
		case s := <-sigs:
			log.Info().Str("signal", s.String()).Msg("closing the window on signal")
			fyne.Do(g.app.Quit)
			g.endSoon()
		case <-ctx.Done():
		}
	}()
	// Closing the window ends this process; the agent keeps the license
	// fresh. Say so, and how to come back, since nothing stays on screen.
	g.win.SetCloseIntercept(func() {
		title, body := plain.CloseHint(haveTrayHost())
		g.app.SendNotification(fyne.NewNotification(title, body))
		g.win.Close()
		g.endSoon()
	})
	shown.Store(true)
	g.win.ShowAndRun()
	return 0
}

// quitGrace is how long the window may take to close in order.
const quitGrace = 3 * time.Second

// endSoon ends the process if Fyne has not ended it within quitGrace of a
// close: Fyne 2.8.1 can deadlock at the end of its loop (its event queue
// waits for the main thread while the main thread waits for the queue,
// seen on SIGTERM). The window owns nothing the agent does not keep, so
// ending it loses nothing; a logout must not wait on it.
func (g *gui) endSoon() {
	time.AfterFunc(quitGrace, func() {
		g.log.Warn().Dur("after", quitGrace).Msg("the window did not close in order; ending it")
		os.Exit(0)
	})
}

// followStatus long-polls the agent and sets the binding on every change.
// While the agent is away the window keeps the last status and retries.
func (g *gui) followStatus(rev uint64) {
	for g.ctx.Err() == nil {
		st, next, err := g.cl.WaitStatus(g.ctx, rev, time.Minute)
		if err != nil {
			if g.ctx.Err() == nil {
				g.log.Warn().Err(err).Msg("agent status not received; retrying")
				select {
				case <-time.After(2 * time.Second):
				case <-g.ctx.Done():
				}
			}
			continue
		}
		rev = next
		g.status.Set(st)
	}
}

// publish shows a status a screen received; the agent publishes it to
// everyone else itself.
func (g *gui) publish(st licensecore.Status) { g.status.Set(st) }

// onStatus runs on the Fyne thread after every publish.
func (g *gui) onStatus() {
	st, err := g.status.Get()
	if err != nil {
		return
	}
	g.setContent(st)
}

func (g *gui) setContent(st licensecore.Status) {
	want := 0
	if st.State != licensecore.Unlicensed {
		want = 1
	}
	// The wizard stays for its "Licensed" confirmation until the person
	// leaves it (WizardEvents.Done); a license that arrived another way
	// (offline activation) replaces the wizard at once.
	if want == g.lastUI || (g.confirming && want == 1) {
		return
	}
	// The agent announces a license the wizard obtained a moment before
	// the wizard hears so itself: give the wizard that moment to show its
	// confirmation. A license from elsewhere replaces the wizard after it.
	if want == 1 && g.lastUI == 0 {
		if !g.deferred {
			g.deferred = true
			time.AfterFunc(wizardGrace, func() {
				fyne.Do(func() {
					g.deferred = false
					if st, err := g.status.Get(); err == nil && !g.confirming && st.State != licensecore.Unlicensed && g.lastUI == 0 {
						g.switchContent(1)
					}
				})
			})
		}
		return
	}
	g.switchContent(want)
}

// switchContent puts the details (want 1) or the wizard (0) in the window.
func (g *gui) switchContent(want int) {
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
			lazyTab{"License", theme.InfoIcon(), func() fyne.CanvasObject { return screens.NewDetails(ctx, g.cl, g.status, g.app) }},
			lazyTab{"Manage license", theme.SettingsIcon(), func() fyne.CanvasObject {
				return screens.NewManage(ctx, g.cl, g.gate, g.win, g.status, g.app, g.publish)
			}},
			lazyTab{"Offline activation", theme.MailSendIcon(), func() fyne.CanvasObject { return g.offlineScreen(ctx) }},
			lazyTab{"Customer account", theme.AccountIcon(), func() fyne.CanvasObject { return screens.NewAccount(ctx, g.cl, g.gate) }},
			lazyTab{"Cloud licenses", theme.StorageIcon(), func() fyne.CanvasObject { return screens.NewPool(ctx, g.cl, g.gate, g.win) }},
		))
		return
	}
	// Not licensed: the wizard has the whole window; offline activation is
	// in the License menu.
	g.win.SetContent(screens.NewWizardEvents(ctx, g.cl, g.app, screens.WizardEvents{
		Licensed: func(st licensecore.Status) {
			g.confirming = true
			title, body := plain.LicensedNotice(st)
			g.app.SendNotification(fyne.NewNotification(title, body))
			g.publish(st)
		},
		Done: func(licensecore.Status) {
			g.confirming = false
			g.switchContent(1)
		},
	}))
}

func (g *gui) offlineScreen(ctx context.Context) fyne.CanvasObject {
	home, err := os.UserHomeDir()
	if err != nil {
		home = g.cfg.DataDir
	}
	return screens.NewOffline(ctx, g.cl, g.gate, g.win, g.status, g.publish, home)
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
	w.SetContent(container.NewPadded(container.NewVScroll(build(ctx, w, screens.NewAdminGate(g.cl, w)))))
	w.Resize(fyne.NewSize(640, 600))
	w.Show()
}

func (g *gui) showOffline() {
	g.showExtra("Offline activation", func(ctx context.Context, w fyne.Window, gate *screens.AdminGate) fyne.CanvasObject {
		return screens.NewOffline(ctx, g.cl, gate, w, g.status, func(st licensecore.Status) {
			g.publish(st)
			if st.State != licensecore.Unlicensed {
				w.Close()
			}
		}, g.cfg.DataDir)
	})
}

func (g *gui) showAccount() {
	g.showExtra("Customer account", func(ctx context.Context, _ fyne.Window, gate *screens.AdminGate) fyne.CanvasObject {
		return screens.NewAccount(ctx, g.cl, gate)
	})
}

func (g *gui) showPool() {
	g.showExtra("Cloud licenses", func(ctx context.Context, w fyne.Window, gate *screens.AdminGate) fyne.CanvasObject {
		return screens.NewPool(ctx, g.cl, gate, w)
	})
}

func (g *gui) showWindow() {
	g.win.Show()
	g.win.RequestFocus()
}

func (g *gui) mainMenu() *fyne.MainMenu {
	settings := fyne.NewMenuItem("Settings…", g.showSettings)
	refresh := fyne.NewMenuItem("Refresh tokens now", g.refreshNow)
	offline := fyne.NewMenuItem("Offline activation…", g.showOffline)
	account := fyne.NewMenuItem("Customer account…", g.showAccount)
	pool := fyne.NewMenuItem("Cloud licenses…", g.showPool)
	return fyne.NewMainMenu(fyne.NewMenu("License Desk", refresh, settings), fyne.NewMenu("License", offline, account, pool))
}

// refreshNow asks the agent for a refresh; the new status arrives through
// followStatus, a failure as a dialog.
func (g *gui) refreshNow() {
	go func() {
		ctx, cancel := context.WithTimeout(g.ctx, 2*time.Minute)
		defer cancel()
		if _, err := g.cl.RefreshNow(ctx); err != nil && g.ctx.Err() == nil {
			fyne.Do(func() { dialog.ShowError(errors.New(plain.Explain(err)), g.win) })
		}
	}()
}

func (g *gui) showSettings() {
	cur, err := g.currentSettings()
	if err != nil {
		dialog.ShowError(errors.New(plain.Explain(err)), g.win)
		return
	}
	w := g.app.NewWindow("License Desk – Settings")
	gate := screens.NewAdminGate(g.cl, w)
	w.SetContent(container.NewPadded(screens.NewSettings(cur, func(next plain.Settings) error {
		return g.applySettings(cur, next, gate, w)
	})))
	w.Resize(fyne.NewSize(560, 460))
	w.Show()
}

// currentSettings are the agent's settings with the trust anchor in force.
func (g *gui) currentSettings() (plain.Settings, error) {
	v, err := g.cl.Settings(g.ctx)
	if err != nil {
		return plain.Settings{}, err
	}
	return plain.Settings{AuthorityURL: v.AuthorityURL, RootKey: v.RootKey, RenewalWindowDays: v.RenewalWindowDays,
		TokenWarnHours: v.TokenWarnHours, TokenWarnPercent: v.TokenWarnPercent, StartMinimized: v.StartMinimized,
		KeyStorage: v.KeyStorage}, nil
}

// applySettings saves new thresholds at once; the Authorization server and
// its root key are the trust anchor, so they change only through an
// administrator (licensecore enforces it), and a new root only after the
// person confirmed both fingerprints.
func (g *gui) applySettings(cur, next plain.Settings, gate *screens.AdminGate, w fyne.Window) error {
	err := g.cl.SaveSettings(g.ctx, localapi.Settings{RenewalWindowDays: next.RenewalWindowDays,
		TokenWarnHours: next.TokenWarnHours, TokenWarnPercent: next.TokenWarnPercent, StartMinimized: next.StartMinimized})
	if err != nil {
		return err
	}
	if next.AuthorityURL != cur.AuthorityURL || next.RootKey != cur.RootKey {
		g.changeAuthority(next, cur, gate, w)
	}
	return nil
}

// changeAuthority asks for an administrator (and, for a new root, a
// confirmation showing both fingerprints), then changes the trust anchor.
func (g *gui) changeAuthority(next, cur plain.Settings, gate *screens.AdminGate, w fyne.Window) {
	var root ed25519.PublicKey
	if next.RootKey != "" {
		var err error
		if root, err = wire.ParseRootKey(next.RootKey); err != nil {
			dialog.ShowError(errors.New(plain.Explain(err)), w)
			return
		}
	}
	gate.Do("Change the Authorization server", func(sess *licensecore.AdminSession) {
		apply := func(repin bool) {
			if err := g.cl.ChangeAuthority(g.ctx, sess, next.AuthorityURL, root, repin); err != nil {
				dialog.ShowError(errors.New(plain.Explain(err)), w)
				return
			}
			dialog.ShowInformation("Authorization server changed", "License Desk now trusts "+next.AuthorityURL+".", w)
		}
		if next.RootKey == cur.RootKey || cur.RootKey == "" {
			apply(false)
			return
		}
		old, _ := wire.ParseRootKey(cur.RootKey)
		dialog.ShowConfirm("Trust a new root key?", plain.RepinQuestion(old, root), apply, w)
	})
}

// startTray starts the tray process unless one answers on its socket; it
// lives on after the window closes.
func startTray(cfg Config, log zerolog.Logger) {
	if conn, err := dialLocal(filepath.Join(cfg.DataDir, traySocket), time.Second); err == nil {
		conn.Close()
		return
	}
	exe, err := programFor("tray")
	if err != nil {
		return
	}
	cmd := exec.Command(exe, "tray", "-data", cfg.DataDir, "-socket", cfg.Socket, "-log-level", cfg.LogLevel.String())
	detach(cmd)
	if err := cmd.Start(); err != nil {
		log.Warn().Err(err).Msg("cannot start the tray")
		return
	}
	go func() { _ = cmd.Wait() }()
}

// haveDisplay reports whether a window can open: on Linux and the BSDs an
// X11 or Wayland display must be named.
func haveDisplay() bool {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
