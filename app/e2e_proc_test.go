//go:build linux

package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"licensedesk/licensecore/authority"
)

// Helpers for the end-to-end test: real binaries, a real X display (Xvfb),
// xdotool for the mouse, ImageMagick's import for screenshots, xclip for the
// clipboard.

// e2eRequired reports whether a missing piece must fail the test (CI sets
// LICENSEDESK_E2E=1) rather than skip it.
func e2eRequired() bool { return os.Getenv("LICENSEDESK_E2E") == "1" }

// requireDesktop skips (or, when required, fails) unless the test runs
// inside an X display and a D-Bus session with the tools it drives.
func requireDesktop(t *testing.T) {
	t.Helper()
	requireParts(t, "desktop test", " (make unit provides Xvfb and D-Bus)",
		[]string{"DISPLAY", "DBUS_SESSION_BUS_ADDRESS"}, []string{"xdotool", "import", "xclip", "go"})
}

// requireParts skips (or, when required, fails) unless the environment
// variables, Chromium and the tools an end-to-end test drives are there.
func requireParts(t *testing.T, test, hint string, envs, tools []string) {
	t.Helper()
	var missing []string
	for _, env := range envs {
		if os.Getenv(env) == "" {
			missing = append(missing, "$"+env)
		}
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath)
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	switch {
	case len(missing) > 0 && e2eRequired():
		t.Fatalf("LICENSEDESK_E2E=1 but the %s cannot run without %s%s", test, strings.Join(missing, ", "), hint)
	case len(missing) > 0:
		t.Skipf("needs %s%s", strings.Join(missing, ", "), hint)
	case testing.Short() && !e2eRequired():
		t.Skipf("end-to-end %s skipped in -short mode", test)
	}
}

// artifactDir is where screenshots and logs go: $LICENSEDESK_ARTIFACTS/e2e
// in CI (uploaded), else the test's temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("LICENSEDESK_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, "e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// buildBinaries builds the app and the authority as shipped (no -race: the
// test binary has it, the programs under test need not be slowed by it):
// the window's program with the headless one beside it, which the window
// starts the agent and the tray from. The build tags are the Makefile's.
func buildBinaries(t *testing.T) (app, authority string) {
	t.Helper()
	dir := t.TempDir()
	tags := os.Getenv("TAGS")
	if tags == "" {
		tags = "migrated_fynedo,no_emoji"
	}
	app, authority = filepath.Join(dir, "licensedesk"), filepath.Join(dir, "authority")
	goBuild(t, "build", "-tags", tags, "-o", app, ".")
	goBuild(t, "build", "-tags", tags+",headless", "-o", filepath.Join(dir, "licensedesk-agent"), ".")
	goBuild(t, "build", "-o", authority, "./cmd/authority")
	return app, authority
}

func goBuild(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a cold cgo build takes ~3 min
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// proc is a started program whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done is closed
}

func startProc(t *testing.T, name, logPath string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its children die with it
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t, 5*time.Second) })
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then kills the process group.
func (p *proc) stop(t *testing.T, grace time.Duration) {
	t.Helper()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	t.Logf("%s did not stop within %s of SIGTERM: killing it", p.name, grace)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// freeLoopbackAddr returns a loopback address nothing listens on.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHealthy polls the authority's /healthz.
func waitHealthy(ctx context.Context, t *testing.T, base string, p *proc) {
	t.Helper()
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p.exited() {
			t.Fatalf("authority exited: %v", p.err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("authority at %s never became healthy: %v", base, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// x runs an X client tool and returns its trimmed output.
func x(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// waitWindow polls xdotool until a window with exactly this title is
// mapped, and returns its id.
func waitWindow(ctx context.Context, t *testing.T, title string, app *proc) string {
	t.Helper()
	for {
		out, err := x(ctx, "xdotool", "search", "--onlyvisible", "--name", "^"+title+"$")
		if err == nil && out != "" {
			return strings.Fields(out)[0]
		}
		if app.exited() {
			t.Fatalf("the app exited before its window appeared: %v", app.err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no visible %q window", title)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// windowSize reads the window geometry (the click coordinates assume the
// 640x560 window the app asks for).
func windowSize(ctx context.Context, t *testing.T, win string) (w, h int) {
	t.Helper()
	out, err := x(ctx, "xdotool", "getwindowgeometry", "--shell", win)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "WIDTH":
			w = n
		case "HEIGHT":
			h = n
		}
	}
	return w, h
}

// point is a position in window coordinates.
type point struct{ X, Y int }

// click moves the pointer to p in the window and clicks the left button,
// like a person with a mouse.
func click(ctx context.Context, t *testing.T, win string, p point) {
	t.Helper()
	if _, err := x(ctx, "xdotool", "mousemove", "--window", win, strconv.Itoa(p.X), strconv.Itoa(p.Y), "click", "1"); err != nil {
		t.Fatal(err)
	}
}

// screenshot saves the window as PNG in dir and returns the decoded image.
func screenshot(ctx context.Context, t *testing.T, win, dir, name string) image.Image {
	t.Helper()
	path := filepath.Join(dir, name)
	if _, err := x(ctx, "import", "-window", win, path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

// colours counts the distinct colours of img: a blank or black capture
// has one or two, a drawn form has dozens (anti-aliased text).
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// greenPixels counts clearly green pixels in the top rows of img.
func greenPixels(img image.Image, rows int) int {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < min(b.Max.Y, b.Min.Y+rows); y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if g>>8 >= 0xc0 && r>>8 < 0x80 && bl>>8 < 0x80 {
				n++
			}
		}
	}
	return n
}

// differs reports the fraction of pixels that differ between a and b.
func differs(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	if ab != bb {
		return 1
	}
	n := 0
	for y := ab.Min.Y; y < ab.Max.Y; y++ {
		for x := ab.Min.X; x < ab.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				n++
			}
		}
	}
	return float64(n) / float64(ab.Dx()*ab.Dy())
}

// statusJSON is the part of `licensedesk status --json` the test reads.
type statusJSON struct {
	Status     string `json:"status"`
	TokenState string `json:"token_state"`
	License    *struct {
		ServerID    string    `json:"server_id"`
		LicenseID   string    `json:"licence_id"`
		TokenID     string    `json:"token_id"`
		TokenExpiry time.Time `json:"token_expiry"`
		Offline     bool      `json:"offline"`
	} `json:"licence"`
}

// licenseStatus runs `licensedesk status --json` against the running app's
// data directory, as a monitoring script would.
func licenseStatus(ctx context.Context, bin string, env []string) (statusJSON, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "status", "--json")
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	var st statusJSON
	if jerr := json.Unmarshal(out, &st); jerr != nil {
		return st, fmt.Errorf("status --json: %v (%v): %s", jerr, err, strings.TrimSpace(errb.String()))
	}
	return st, nil // the exit code is the severity; the JSON says it all
}

// waitStatus polls the status command until ok accepts the answer.
func waitStatus(ctx context.Context, t *testing.T, bin string, env []string, what string, ok func(statusJSON) bool) statusJSON {
	t.Helper()
	var last statusJSON
	var lastErr error
	for {
		last, lastErr = licenseStatus(ctx, bin, env)
		if lastErr == nil && ok(last) {
			return last
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; last status %+v, error %v", what, last, lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// desktopRun is what each desktop end-to-end test begins with: the
// programs built, the desktop shell's side of the session bus, a deadline
// for the whole run, and where the artifacts go.
type desktopRun struct {
	ctx             context.Context
	art             string
	appBin, authBin string
	bus             *desktopBus
	step            func(format string, args ...any)
	installCode     string // this PC's, or "" when it has no machine id
}

// beginDesktopRun skips or fails the test when the desktop is missing (see
// requireDesktop), then sets up a run that must end within timeout.
func beginDesktopRun(t *testing.T, timeout time.Duration) *desktopRun {
	t.Helper()
	requireDesktop(t)
	holdDisplay(t)
	r := &desktopRun{art: artifactDir(t), installCode: thisInstallCode()}
	t.Logf("artifacts in %s", r.art)
	r.appBin, r.authBin = buildBinaries(t)
	r.bus = startDesktopBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	r.ctx, r.step = ctx, stepper(t)
	return r
}

// holdDisplay keeps a client connected to the X display until the test
// ends, as a desktop session's window manager is. A bare Xvfb resets when
// its last client disconnects, and a program opening the display during
// the reset fails ("failed to initialise GLFW"): the app starting just as
// headless Chromium (which opens the display too) exits, for one.
func holdDisplay(t *testing.T) {
	t.Helper()
	startProc(t, "xdotool sleep", os.DevNull, nil, "xdotool", "sleep", "3600")
}

// stepper returns a logger that prefixes each step with the seconds since
// the test began.
func stepper(t *testing.T) func(format string, args ...any) {
	began := time.Now()
	return func(format string, args ...any) {
		t.Helper()
		t.Logf("%6.1fs  %s", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
}

// authorityRun is the authority binary serving one data directory on one
// loopback address; stop and start it again for the same data and port.
type authorityRun struct {
	t          *testing.T
	bin, log   string
	addr, base string
	data       string
	root       string   // the root public key (ed25519:…) the app pins
	args       []string // the flags of every start (not the seed)
	p          *proc
}

// startAuthority serves a fresh data directory, seeded with seed, on a free
// loopback address, logging to logPath; extra are more flags.
func startAuthority(ctx context.Context, t *testing.T, bin, logPath string, seed authority.Seed, extra ...string) *authorityRun {
	t.Helper()
	return serveAuthority(ctx, t, bin, freeLoopbackAddr(t), t.TempDir(), logPath, seed, extra...)
}

// serveAuthority seeds data and serves it on addr until the test ends.
func serveAuthority(ctx context.Context, t *testing.T, bin, addr, data, logPath string, seed authority.Seed, extra ...string) *authorityRun {
	t.Helper()
	seedFile := filepath.Join(t.TempDir(), "seed.json")
	writeSeed(t, seedFile, seed)
	a := &authorityRun{t: t, bin: bin, log: logPath, addr: addr, base: "http://" + addr, data: data,
		args: append([]string{"-addr", addr, "-data", data, "-log-level", "debug"}, extra...)}
	a.run(ctx, "-seed", seedFile)
	a.root = rootOf(ctx, t, bin, data)
	return a
}

// rootOf reads the authority's root public key as its operator would, with
// `authority root show`, to configure the app as an installer would.
func rootOf(ctx context.Context, t *testing.T, bin, data string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, bin, "root", "show", "-data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("authority root show: %v\n%s", err, out)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "ed25519:") {
			return f
		}
	}
	t.Fatalf("authority root show printed no root key:\n%s", out)
	return ""
}

// start serves the same data on the same address again.
func (a *authorityRun) start(ctx context.Context) {
	a.t.Helper()
	a.run(ctx)
}

func (a *authorityRun) run(ctx context.Context, more ...string) {
	a.t.Helper()
	a.p = startProc(a.t, "authority", a.log, nil, a.bin, append(slices.Clone(a.args), more...)...)
	waitHealthy(ctx, a.t, a.base, a.p)
}

// stop ends the server (SIGTERM), which releases the data directory's lock.
func (a *authorityRun) stop() {
	a.t.Helper()
	a.p.stop(a.t, 10*time.Second)
}

// newAppHome makes an empty app data directory and the environment that
// points the app, and Fyne, at it.
func newAppHome(t *testing.T) (home string, env []string) {
	t.Helper()
	home = t.TempDir()
	for _, d := range []string{"config", "cache"} { // Fyne creates only its own subdirectory
		if err := os.Mkdir(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return home, []string{"LICENSEDESK_HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "XDG_CACHE_HOME=" + filepath.Join(home, "cache")}
}

// startApp starts the app binary with debug logging; its stderr and, at the
// end, its log file land in art, named with prefix.
func startApp(t *testing.T, art, prefix, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := startProc(t, "licensedesk", filepath.Join(art, prefix+"licensedesk-stderr.log"), env, bin,
		append([]string{"-log-level", "debug"}, args...)...)
	t.Cleanup(func() {
		for _, e := range env {
			if home, ok := strings.CutPrefix(e, "LICENSEDESK_HOME="); ok {
				stopStrays(t, home)
				for _, log := range []string{"licensedesk.log", "window.log", "tray.log"} {
					_ = copyFile(filepath.Join(art, prefix+log), filepath.Join(home, log))
				}
			}
		}
	})
	return p
}

// stopStrays ends the agent and the tray the window started for home: they
// run in their own sessions, so the window's process group does not take
// them along. Each gets SIGTERM and, after 5 s, SIGKILL.
func stopStrays(t *testing.T, home string) {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && slices.Contains(strings.Split(string(cmdline), "\x00"), home) {
			pids = append(pids, pid)
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(raw), ") Z ") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(raw), ") Z ") {
			t.Logf("process %d did not stop within 5 s of SIGTERM: killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// waitMainWindow waits for the app's main window and returns its id and
// size; the click positions assume 780x600.
func waitMainWindow(ctx context.Context, t *testing.T, app *proc, step func(string, ...any)) (win string, w, h int) {
	t.Helper()
	win = waitWindow(ctx, t, "License Desk", app)
	w, h = windowSize(ctx, t, win)
	step("window %s mapped, %dx%d", win, w, h)
	if w != 780 || h != 600 {
		t.Logf("window is %dx%d, not 780x600: click positions may be off (see the screenshots)", w, h)
	}
	return win, w, h
}

// waitWindowGone waits until no visible window has this title.
func waitWindowGone(ctx context.Context, t *testing.T, title string) {
	t.Helper()
	for {
		// xdotool search fails when it finds nothing.
		if out, _ := x(ctx, "xdotool", "search", "--onlyvisible", "--name", "^"+title+"$"); out == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the %q window is still open", title)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// typeText types text on the keyboard into whatever has the focus (the
// pointer's window: Xvfb has no window manager, so focus follows it).
func typeText(ctx context.Context, t *testing.T, text string) {
	t.Helper()
	if _, err := x(ctx, "xdotool", "type", "--delay", "12", "--", text); err != nil {
		t.Fatal(err)
	}
}

// pressKeys presses keys such as "Tab" or "ctrl+a", one after the other.
func pressKeys(ctx context.Context, t *testing.T, keys ...string) {
	t.Helper()
	if _, err := x(ctx, "xdotool", append([]string{"key", "--delay", "12"}, keys...)...); err != nil {
		t.Fatal(err)
	}
}

// fillEntry clicks the entry at p, selects what it holds and types text
// over it.
func fillEntry(ctx context.Context, t *testing.T, win string, p point, text string) {
	t.Helper()
	click(ctx, t, win, p)
	pressKeys(ctx, t, "ctrl+a")
	typeText(ctx, t, text)
}

// waitShot takes screenshots (saved as name) until ok accepts one, and
// returns it. poke, when not nil, runs before each screenshot.
func waitShot(ctx context.Context, t *testing.T, win, art, name, what string, poke func(), ok func(image.Image) bool) image.Image {
	t.Helper()
	for {
		if poke != nil {
			poke()
		}
		img := screenshot(ctx, t, win, art, name)
		if ok(img) {
			return img
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s (last screenshot: %s)", what, name)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// The administrator the tests create in AdminGate's dialog.
const (
	e2eAdmin         = "sysadmin"
	e2eAdminPassword = "e2e-admin-pass-1"
)

// fillAdminDialog waits for AdminGate's dialog over the window (prev is
// the window before the click that opens it), types the administrator's
// name and password (and the password again when create, for "Create the
// System Administrator"), saves a screenshot as name and confirms. The
// keyboard finds the fields: Tab focuses the dialog's first entry and moves
// on from there. The confirm button is the one primary (blue) button the
// dialog does not dim.
func fillAdminDialog(ctx context.Context, t *testing.T, win, art, name string, prev image.Image, create bool) {
	t.Helper()
	waitShot(ctx, t, win, art, name, "the administrator dialog", nil, func(img image.Image) bool {
		return differs(img, prev) > 0.3 // the dialog dims the whole window
	})
	// The user name may be suggested: replace it. The primary button is
	// enabled only once the fields are valid.
	pressKeys(ctx, t, "Tab", "ctrl+a")
	typeText(ctx, t, e2eAdmin)
	pressKeys(ctx, t, "Tab")
	typeText(ctx, t, e2eAdminPassword)
	if create {
		pressKeys(ctx, t, "Tab")
		typeText(ctx, t, e2eAdminPassword)
	}
	filled := waitShot(ctx, t, win, art, strings.TrimSuffix(name, ".png")+"-filled.png", "the dialog's enabled primary button", nil, func(img image.Image) bool {
		_, found := primaryButton(img)
		return found
	})
	clickPrimary(ctx, t, win, filled, "the administrator dialog")
}

// primaryButton finds the primary (high importance) button in img: the
// largest solid block of the theme's primary blue, rgb(41,111,246), its
// pixels counted only where their neighbourhood is that blue too (a focused
// entry's border is too thin, a ticked check box too small). It reports
// false when there is no such block: no enabled primary button, or only
// dimmed ones behind a dialog.
func primaryButton(img image.Image) (point, bool) { return buttonOf(img, 41, 111, 246) }

// dangerButton is primaryButton for a button marked as dangerous (the
// theme's error red).
func dangerButton(img image.Image) (point, bool) { return buttonOf(img, 244, 67, 54) }

// buttonOf finds the largest solid block of the colour (wr, wg, wb).
func buttonOf(img image.Image, wr, wg, wb int) (point, bool) {
	isPrimary := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		near := func(v uint32, want int) bool { d := int(v>>8) - want; return d >= -12 && d <= 12 }
		return near(r, wr) && near(g, wg) && near(b, wb)
	}
	const k = 4 // the neighbourhood is (2k+1)² pixels
	bounds := img.Bounds()
	solid := map[image.Point]bool{}
	for y := bounds.Min.Y + k; y < bounds.Max.Y-k; y++ {
		for x := bounds.Min.X + k; x < bounds.Max.X-k; x++ {
			if isPrimary(x, y) && isPrimary(x-k, y-k) && isPrimary(x+k, y-k) && isPrimary(x-k, y+k) && isPrimary(x+k, y+k) {
				solid[image.Pt(x, y)] = true
			}
		}
	}
	// The largest 4-connected block.
	var best image.Rectangle
	bestN := 0
	seen := map[image.Point]bool{}
	for p := range solid {
		if seen[p] {
			continue
		}
		seen[p] = true
		box, n := image.Rectangle{Min: p, Max: p.Add(image.Pt(1, 1))}, 0
		for queue := []image.Point{p}; len(queue) > 0; {
			q := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			n++
			box = box.Union(image.Rectangle{Min: q, Max: q.Add(image.Pt(1, 1))})
			for _, d := range []image.Point{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				if r := q.Add(d); solid[r] && !seen[r] {
					seen[r] = true
					queue = append(queue, r)
				}
			}
		}
		if n > bestN {
			best, bestN = box, n
		}
	}
	if bestN < 300 { // a button's worth
		return point{}, false
	}
	return point{(best.Min.X + best.Max.X) / 2, (best.Min.Y + best.Max.Y) / 2}, true
}

// crop is the part r of img (window coordinates).
func crop(img image.Image, r image.Rectangle) image.Image {
	return img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
}

// greenIn counts clearly green pixels (a success message, the Licensed
// status value) in the part r of img.
func greenIn(img image.Image, r image.Rectangle) int {
	return greenPixels(crop(img, r), r.Dy())
}

// scroll turns the mouse wheel over p: clicks of button 4 scroll up, of
// button 5 down; a negative n scrolls up.
func scroll(ctx context.Context, t *testing.T, win string, p point, n int) {
	t.Helper()
	button := "5"
	if n < 0 {
		button, n = "4", -n
	}
	if _, err := x(ctx, "xdotool", "mousemove", "--window", win, strconv.Itoa(p.X), strconv.Itoa(p.Y),
		"click", "--repeat", strconv.Itoa(n), "--delay", "10", button); err != nil {
		t.Fatal(err)
	}
}

// clickPrimary clicks the one undimmed primary button of img, the window's
// latest screenshot: a dialog's confirm button.
func clickPrimary(ctx context.Context, t *testing.T, win string, img image.Image, what string) {
	t.Helper()
	p, ok := primaryButton(img)
	if !ok {
		t.Fatalf("no primary button to click for %s", what)
	}
	click(ctx, t, win, p)
}
