package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"
	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/localapi"
	"licensedesk/screens/plain"
)

// traySocket makes the tray a single instance per data directory.
const traySocket = "tray.sock"

// trayProc is the light tray process: a StatusNotifierItem and desktop
// notifications over D-Bus, no OpenGL and no window. It follows the
// agent's status and notices, and starts the window process on demand.
type trayProc struct {
	cfg    Config
	log    zerolog.Logger
	cl     *localapi.Client
	bus    *dbus.Conn // nil without a session bus: no notifications
	ctx    context.Context
	status licensecore.Status
	known  bool // the agent answered at least once
}

func runTray(cfg Config, stderr io.Writer) int {
	log, lf, err := newLogger(cfg.DataDir, cfg.LogLevel, stderr, "tray.log")
	if err != nil {
		fmt.Fprintf(stderr, "License Desk tray cannot write its log in %s: %v\n", cfg.DataDir, err)
		return 1
	}
	defer lf.Close()
	inst, err := claimInstance(filepath.Join(cfg.DataDir, traySocket), nil)
	if err != nil {
		fmt.Fprintln(stderr, "The License Desk tray is already running.")
		return 0
	}
	defer inst.Close()
	cl, err := ensureAgent(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "License Desk tray: %s\n", plain.Explain(err))
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := &trayProc{cfg: cfg, log: log, cl: cl, ctx: ctx}
	if t.bus, err = dbus.ConnectSessionBus(); err != nil {
		log.Warn().Err(err).Msg("no D-Bus session: no notifications")
	}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
		select {
		case <-sigs:
			systray.Quit()
		case <-ctx.Done():
		}
	}()
	systray.Run(t.ready, cancel)
	return 0
}

func (t *trayProc) ready() {
	systray.SetTitle(WindowTitle)
	t.show()
	go t.followStatus()
	go t.followNotices()
}

// followStatus long-polls the agent and redraws on every change; while
// the agent is away it says so and keeps trying.
func (t *trayProc) followStatus() {
	var rev uint64
	for t.ctx.Err() == nil {
		st, next, err := t.cl.WaitStatus(t.ctx, rev, time.Minute)
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.known = false
			t.show()
			t.sleep(5 * time.Second)
			rev = 0
			continue
		}
		t.status, t.known, rev = st, true, next
		t.show()
	}
}

func (t *trayProc) followNotices() {
	var after uint64
	for t.ctx.Err() == nil {
		ns, next, err := t.cl.Notices(t.ctx, after, time.Minute)
		if err != nil {
			t.sleep(5 * time.Second)
			continue
		}
		after = next
		for _, n := range ns {
			t.notify(n.Title, n.Body)
		}
	}
}

func (t *trayProc) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-t.ctx.Done():
	}
}

// show draws the icon, tooltip and menu for the current status, from the
// same model the window's words come from.
func (t *trayProc) show() {
	now := time.Now()
	st := t.status
	line, state := plain.TrayStatus(st, now)
	menu := plain.TrayMenu(st, now)
	if !t.known {
		line, state = plain.TrayAgentDown, plain.TrayUnlicensed
		menu[0].Label = line
	}
	systray.SetIcon(state.IconPNG())
	tip := plain.TrayTooltip(st, now)
	if !t.known {
		tip = "License Desk: " + line
	}
	systray.SetTooltip(tip)
	systray.ResetMenu()
	for _, it := range menu {
		if it.Label == "" {
			systray.AddSeparator()
			continue
		}
		mi := systray.AddMenuItem(it.Label, "")
		act := t.action(it.Action)
		if it.Disabled || act == nil {
			mi.Disable()
			continue
		}
		go func() {
			for range mi.ClickedCh {
				act()
			}
		}()
	}
}

// action is what a menu item does in this process.
func (t *trayProc) action(a plain.TrayAction) func() {
	switch a {
	case plain.TrayOpen:
		return t.openWindow
	case plain.TrayRefresh:
		return t.refresh
	case plain.TrayQuit:
		return systray.Quit
	}
	return nil
}

// openWindow starts the window process; a running one comes to the front.
func (t *trayProc) openWindow() {
	exe, err := programFor("gui")
	if err != nil {
		t.log.Error().Err(err).Msg("cannot find the program to open the window")
		return
	}
	cmd := exec.Command(exe, t.childArgs("gui")...)
	if err := cmd.Start(); err != nil {
		t.log.Error().Err(err).Msg("cannot open the window")
		return
	}
	go func() { _ = cmd.Wait() }()
}

func (t *trayProc) childArgs(command string) []string {
	return []string{command, "-data", t.cfg.DataDir, "-socket", t.cfg.Socket, "-log-level", t.cfg.LogLevel.String()}
}

// refresh is the menu's "Refresh tokens now"; the outcome comes back as a
// notification since no window may be open.
func (t *trayProc) refresh() {
	go func() {
		ctx, cancel := context.WithTimeout(t.ctx, 2*time.Minute)
		defer cancel()
		st, err := t.cl.RefreshNow(ctx)
		title, body := plain.RefreshOutcome(st, err)
		t.notify(title, body)
	}()
}

// notify sends a desktop notification (org.freedesktop.Notifications).
func (t *trayProc) notify(title, body string) {
	if t.bus == nil {
		return
	}
	call := t.bus.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications").Call(
		"org.freedesktop.Notifications.Notify", 0, AppID, uint32(0), "", title, body,
		[]string{}, map[string]dbus.Variant{}, int32(-1))
	if call.Err != nil {
		t.log.Warn().Err(call.Err).Msg("notification not delivered")
		return
	}
	t.log.Info().Str("title", title).Msg("notification sent")
}
