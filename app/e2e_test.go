//go:build linux

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

const chromiumPath = "/usr/bin/chromium"

// What the authority is seeded with.
const (
	e2eOrg      = "e2e-retail"
	e2eUser     = "e2e-admin"
	e2ePassword = "e2e-password-7"
	e2eServerID = "POS-E2E-0001"
	e2eDevice   = "E2E Register PC"
	// A short token so the expiry warning arrives within the test: the
	// warning starts when 25 % (15 s) is left, the app refreshes at 50 %.
	e2eTokenLifetime = 60 * time.Second
)

// Where the wizard's controls are in the 780x600 window, read off
// screenshots of each step (the step screenshots in the artifacts show
// them). Next sits at the right end of the bottom bar.
var (
	nextAt = func(w, h int) point { return point{w - 42, h - 23} }
	copyAt = func(w, _ int) point { return point{w / 2, 136} } // under the big User Code
)

// TestEndToEndDesktop is issue 4's end-to-end test, with real parts only:
// the app binary on an X display, the authority binary on loopback, headless
// Chromium for the person's side, and the session bus for the tray and
// notifications (the test plays the desktop shell there: see desktopBus).
//
// A person clicks through the wizard (xdotool), copies the User Code with
// the Copy button, approves in the browser; the app shows the details
// (screenshot details-licensed.png) and `status --json` says Licensed. The
// tray item is registered and its menu's status line reads "Licensed —
// token expires in …". With the authority stopped the token runs down and
// "License token expires soon" is notified; with it back, the tray's
// "Refresh tokens now" brings a new token, and the tray's Quit ends the app.
func TestEndToEndDesktop(t *testing.T) {
	r := beginDesktopRun(t, 4*time.Minute)
	ctx, art, appBin, bus, step := r.ctx, r.art, r.appBin, r.bus, r.step

	// The authority, seeded with this PC as a device of one organization.
	installCode := r.installCode
	auth := startAuthority(ctx, t, r.authBin, filepath.Join(art, "authority.log"), e2eSeed(installCode),
		"-token-lifetime", e2eTokenLifetime.String(), "-poll-interval", "1s")
	base := auth.base
	step("authority at %s", base)

	// The app, in its own data directory, re-evaluating its status every
	// second instead of every minute.
	_, appEnv := newAppHome(t)
	appEnv = append(appEnv, "LICENSEDESK_STATUS_TICK=1s")
	app := startApp(t, art, "", appBin, appEnv, "-authority", base, "-root-key", auth.root, "-device-name", e2eDevice)
	t.Cleanup(func() {
		bus.mu.Lock()
		raw, _ := json.MarshalIndent(bus.notes, "", "  ")
		bus.mu.Unlock()
		_ = os.WriteFile(filepath.Join(art, "notifications.json"), raw, 0o644)
	})
	win, w, h := waitMainWindow(ctx, t, app, step)

	// The window started the agent and the tray; the tray process
	// registered with the watcher under its documented bus name.
	item := bus.waitTrayItem(ctx, t)
	trayPid := trayProcess(t, bus, item)
	step("tray item registered by %s (pid %d) at %s", item.Sender, trayPid, item.Service)

	// Step 1: wait until the page is drawn, then Next.
	shot1 := waitDrawn(ctx, t, win, art, "01-instructions.png")
	click(ctx, t, win, nextAt(w, h))
	waitChanged(ctx, t, win, art, "02-device.png", shot1)
	// Step 2: Next asks the authority for a User Code.
	click(ctx, t, win, nextAt(w, h))
	// Step 3: Copy the code the screen shows and read the clipboard.
	code := copyUserCode(ctx, t, win, w, h)
	shot3 := screenshot(ctx, t, win, art, "03-code.png")
	step("the wizard shows User Code %s", code)
	click(ctx, t, win, nextAt(w, h))
	shot4 := waitChanged(ctx, t, win, art, "04-complete.png", shot3)
	// Step 4: Complete Authorization before the person approves: the app
	// then waits for the authority (and polls on its own anyway).
	clickPrimary(ctx, t, win, shot4, "Complete Authorization")
	waiting := waitChanged(ctx, t, win, art, "05-waiting.png", shot4)

	personApproves(ctx, t, base, code, installCode)
	step("approved in the browser")

	// The details screen replaces the wizard, and the status says Licensed.
	env := appEnv
	st := waitStatus(ctx, t, appBin, env, "Licensed", func(s statusJSON) bool {
		return s.Status == "Licensed" && s.License != nil
	})
	if st.License.ServerID != e2eServerID {
		t.Errorf("licensed as %q, want %q", st.License.ServerID, e2eServerID)
	}
	// The wizard confirms "Licensed" (and notifies), then shows the details.
	confirm := waitShot(ctx, t, win, art, "06-licensed.png", "the wizard's Licensed confirmation", nil, func(img image.Image) bool {
		_, found := primaryButton(img)
		return found && differs(img, waiting) > 0.02
	})
	if n := bus.waitNotification(ctx, t, "License Desk is licensed"); !strings.Contains(n.Body, "License for") {
		t.Errorf("licensed notification %+v", n)
	}
	clickPrimary(ctx, t, win, confirm, "Show license details")
	details := waitChanged(ctx, t, win, art, "details-licensed.png", confirm)
	if n := colours(details); n < 20 {
		t.Errorf("details-licensed.png has %d colours: the window looks blank", n)
	}
	// The status value is drawn in the theme's success green near the top
	// of the details; no wizard page has any green.
	if n := greenPixels(details, 200); n < 40 {
		t.Errorf("details-licensed.png has %d green pixels at the top: no green status value", n)
	}
	step("Licensed: %s, token %s until %s", st.License.ServerID, st.License.TokenID, st.License.TokenExpiry.Format(time.TimeOnly))

	// The tray menu: the status line, then the actions.
	menuPath, menu := waitTrayMenu(ctx, t, bus, item, func(m []menuItem) bool {
		return len(m) > 0 && strings.HasPrefix(m[0].Label, "Licensed — token expires in")
	})
	if menu[0].Enabled {
		t.Errorf("the status line %q is clickable", menu[0].Label)
	}
	for _, label := range []string{"Open License Desk", "Refresh tokens now", "Quit"} {
		if findMenu(menu, label) == nil {
			t.Errorf("tray menu has no %q: %s", label, menuLabels(menu))
		}
	}
	step("tray menu %s at %s", menuLabels(menu), menuPath)

	// Offline: refreshes fail, and the token nears its expiry.
	auth.stop()
	step("authority stopped; waiting for the expiry warning")
	soon := bus.waitNotification(ctx, t, "License token expires soon")
	if soon.AppName != "com.licensedesk.app" || !strings.Contains(soon.Body, "expires") {
		t.Errorf("warning notification %+v", soon)
	}
	step("notified: %q — %s", soon.Summary, soon.Body)
	if !bus.itemStillOwned(item) {
		t.Fatal("the tray item left the bus")
	}

	// Back online (same data, same port), the person chooses Refresh tokens
	// now in the tray.
	auth.start(ctx)
	before, err := licenseStatus(ctx, appBin, env)
	if err != nil || before.License == nil {
		t.Fatalf("status before the refresh: %+v, %v", before, err)
	}
	chooseTrayItem(ctx, t, bus, item, "Refresh tokens now", func() bool {
		return bus.count("License token refreshed") > 0
	})
	after := waitStatus(ctx, t, appBin, env, "a new token", func(s statusJSON) bool {
		return s.License != nil && s.License.TokenID != before.License.TokenID
	})
	if !after.License.TokenExpiry.After(before.License.TokenExpiry) || after.Status != "Licensed" {
		t.Errorf("after the tray refresh: %+v, before %+v", after.License, before.License)
	}
	step("tray refresh: token %s until %s", after.License.TokenID, after.License.TokenExpiry.Format(time.TimeOnly))
	screenshot(ctx, t, win, art, "details-refreshed.png")

	// Quit from the tray ends the tray only; the window and the agent
	// stay. Closing the window ends the window process, with a hint.
	chooseTrayItem(ctx, t, bus, item, "Quit", func() bool { return processGone(trayPid) })
	if app.exited() {
		t.Error("quitting the tray closed the window")
	}
	step("tray quit; the window stays")
	app.stop(t, 10*time.Second)
	if app.err != nil {
		t.Errorf("the window exited with %v on SIGTERM", app.err)
	}
	if st, err := licenseStatus(ctx, appBin, env); err != nil || st.Status != "Licensed" {
		t.Errorf("the agent after the window and the tray ended: %+v, %v", st, err)
	}
	step("window closed; the agent still answers")
}

// thisInstallCode is the install code the app will show, or "" when the PC
// has no machine id (the app then makes up one we cannot know).
func thisInstallCode() string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if raw, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(raw)) != "" {
			return licensecore.InstallCode(strings.TrimSpace(string(raw)))
		}
	}
	return ""
}

// e2eSeed is one organization with one user and this PC as its device,
// licensed by a subscription.
func e2eSeed(installCode string) authority.Seed {
	return authority.Seed{Organizations: []authority.OrganizationSeed{{
		ID: e2eOrg, Name: "E2E Retail",
		Users: []authority.UserSeed{{Username: e2eUser, Password: e2ePassword}},
		Devices: []authority.DeviceSeed{{
			ServerID: e2eServerID, Name: e2eDevice, InstallCode: installCode,
			HubServerName: "hub-e2e", HubServerURL: "https://hub-e2e.example.com", Features: []string{"xms"},
			License: &authority.LicenseSeed{ID: "LIC-E2E-1", Type: wire.Subscription, Customer: "E2E Customer",
				RenewalDate: time.Now().UTC().AddDate(1, 0, 0).Truncate(24 * time.Hour)},
		}},
	}}}
}

func writeSeed(t *testing.T, path string, seed authority.Seed) {
	t.Helper()
	raw, err := json.Marshal(seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitDrawn waits until the window shows more than a blank fill.
func waitDrawn(ctx context.Context, t *testing.T, win, art, name string) image.Image {
	t.Helper()
	for {
		img := screenshot(ctx, t, win, art, name)
		if colours(img) >= 20 {
			return img
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the window stayed blank (%s)", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitChanged waits for the window to differ from prev (the click took
// effect) and to stop changing (animations settled), then keeps that
// screenshot under name. A nil prev only waits for it to settle.
func waitChanged(ctx context.Context, t *testing.T, win, art, name string, prev image.Image) image.Image {
	t.Helper()
	var last image.Image
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("the window did not change as expected before %s", name)
		case <-time.After(150 * time.Millisecond):
		}
		img := screenshot(ctx, t, win, art, name)
		if prev != nil && differs(img, prev) < 0.01 {
			continue
		}
		if last != nil && differs(img, last) < 0.002 {
			return img
		}
		last = img
	}
}

var userCodeRE = regexp.MustCompile(`^[A-Z]{4}-[A-Z]{4}$`)

// copyUserCode clicks Copy under the User Code until the clipboard holds a
// code: the request for the code may still be on its way.
func copyUserCode(ctx context.Context, t *testing.T, win string, w, h int) string {
	t.Helper()
	var got string
	for {
		click(ctx, t, win, copyAt(w, h))
		out, err := x(ctx, "xclip", "-o", "-selection", "clipboard")
		if err == nil && userCodeRE.MatchString(out) {
			return out
		}
		got = out
		select {
		case <-ctx.Done():
			t.Fatalf("no User Code on the clipboard (last %q)", got)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// personApproves is the person at the authority's pages in a browser: sign
// in, choose the organization, choose this device, type the User Code,
// Authorize, check what the confirmation shows, Approve.
func personApproves(ctx context.Context, t *testing.T, base, code, installCode string) {
	t.Helper()
	profile, err := os.MkdirTemp("", "licensedesk-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for range 50 { // Chromium's helpers may write for a moment after exit
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// No keyring prompt where the session has a locked one (bench/startup.sh).
		chromedp.Flag("password-store", "basic"))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, actions...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	submit := func(id string) { // a button that posts its form: wait for the next page
		t.Helper()
		if _, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID(id))); err != nil {
			t.Fatalf("browser: click #%s: %v", id, err)
		}
	}
	text := func(id string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("browser: read #%s: %v", id, err)
		}
		return strings.TrimSpace(v)
	}

	do("open the device page", chromedp.Navigate(base+"/device"))
	do("sign in", chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), e2eUser), chromedp.SendKeys(chromedp.ID("password"), e2ePassword))
	submit("login")
	do("choose the organization", chromedp.WaitVisible(chromedp.ID("org")), chromedp.SetValue(chromedp.ID("org"), e2eOrg))
	submit("choose-org")
	do("choose the device and type the code", chromedp.WaitVisible(chromedp.ID("device")),
		chromedp.SetValue(chromedp.ID("device"), e2eServerID),
		chromedp.Clear(chromedp.ID("user_code")), chromedp.SendKeys(chromedp.ID("user_code"), code))
	submit("authorize")

	if got := text("requesting-device-name"); got != e2eDevice {
		t.Errorf("the confirmation names the requesting device %q, want %q", got, e2eDevice)
	}
	if got := text("requesting-install-code"); installCode != "" && got != installCode {
		t.Errorf("the confirmation shows install code %q, the app's is %q", got, installCode)
	}
	if got := text("confirm-user-code"); got != code {
		t.Errorf("the confirmation shows code %q, want %q", got, code)
	}
	submit("approve")
	do("success page", chromedp.WaitVisible(chromedp.ID("success")))
}

// checkTrayOwner checks the item's bus name is the one StatusNotifierItem
// hosts expect: org.kde.StatusNotifierItem-<pid>-<n>, owned by the caller.
// trayProcess checks that the tray item belongs to a `licensedesk tray`
// process (not the window) under its documented bus name, and returns
// that process's id.
func trayProcess(t *testing.T, bus *desktopBus, it trayItem) int {
	t.Helper()
	var pid uint32
	if err := bus.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, it.Sender).Store(&pid); err != nil {
		t.Fatalf("the tray item's process: %v", err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(string(cmdline), "\x00")
	if err != nil || !slices.Contains(args, "tray") {
		t.Fatalf("the tray item belongs to process %d (%q), not `licensedesk tray`", pid, cmdline)
	}
	// The window starts the tray from the headless program beside it: no
	// Fyne, no OpenGL in the process that stays.
	if filepath.Base(args[0]) != "licensedesk-agent" {
		t.Errorf("the tray runs from %s, not the headless licensedesk-agent", args[0])
	}
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", pid)
	var owner string
	if err := bus.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if owner != it.Sender {
		t.Errorf("%s is owned by %s, the item registered from %s", name, owner, it.Sender)
	}
	return int(pid)
}

// processGone reports whether pid has exited (or is a zombie).
func processGone(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(raw))
	return len(f) > 2 && f[2] == "Z"
}

func (b *desktopBus) itemStillOwned(it trayItem) bool {
	var has bool
	return b.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, it.Sender).Store(&has) == nil && has
}

// waitTrayMenu reads the tray menu until ok accepts it.
func waitTrayMenu(ctx context.Context, t *testing.T, bus *desktopBus, it trayItem, ok func([]menuItem) bool) (string, []menuItem) {
	t.Helper()
	for {
		path, menu, err := bus.trayMenu(it)
		if err == nil && ok(menu) {
			return string(path), menu
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tray menu not as expected: %s (%v)", menuLabels(menu), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// chooseTrayItem clicks the labelled tray menu item until done reports the
// effect. The app rebuilds its tray menu on every status change (each
// second here) and dbusmenu ids change with it, so a click can race a
// rebuild and hit a stale id, as it could for a person: then it is retried.
func chooseTrayItem(ctx context.Context, t *testing.T, bus *desktopBus, it trayItem, label string, done func() bool) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		path, menu, err := bus.trayMenu(it)
		if err != nil {
			t.Fatalf("tray menu: %v", err)
		}
		m := findMenu(menu, label)
		if m == nil {
			t.Fatalf("tray menu has no %q: %s", label, menuLabels(menu))
		}
		if err := bus.clickMenu(it, path, m.ID); err != nil {
			t.Fatalf("dbusmenu Event clicked %q: %v", label, err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if done() {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%q from the tray had no effect", label)
			case <-time.After(100 * time.Millisecond):
			}
		}
		if attempt == 3 {
			t.Fatalf("%q from the tray had no effect after %d clicks", label, attempt)
		}
		t.Logf("%q: no effect yet, clicking again", label)
	}
}

func findMenu(menu []menuItem, label string) *menuItem {
	for i := range menu {
		if menu[i].Label == label {
			return &menu[i]
		}
	}
	return nil
}

func menuLabels(menu []menuItem) string {
	var s []string
	for _, m := range menu {
		if m.Type == "separator" {
			s = append(s, "—")
			continue
		}
		s = append(s, fmt.Sprintf("%q", m.Label))
	}
	return "[" + strings.Join(s, " ") + "]"
}
