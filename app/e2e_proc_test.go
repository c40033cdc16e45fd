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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	var missing []string
	for _, env := range []string{"DISPLAY", "DBUS_SESSION_BUS_ADDRESS"} {
		if os.Getenv(env) == "" {
			missing = append(missing, "$"+env)
		}
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath)
	}
	for _, tool := range []string{"xdotool", "import", "xclip", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	switch {
	case len(missing) > 0 && e2eRequired():
		t.Fatalf("LICENSEDESK_E2E=1 but the desktop test cannot run without %s (make unit provides Xvfb and D-Bus)", strings.Join(missing, ", "))
	case len(missing) > 0:
		t.Skipf("needs %s; run `make e2e` (Xvfb + dbus-run-session)", strings.Join(missing, ", "))
	case testing.Short() && !e2eRequired():
		t.Skip("end-to-end desktop test skipped in -short mode")
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
// test binary has it, the programs under test need not be slowed by it).
func buildBinaries(t *testing.T) (app, authority string) {
	t.Helper()
	dir := t.TempDir()
	app, authority = filepath.Join(dir, "licensedesk"), filepath.Join(dir, "authority")
	goBuild(t, "build", "-tags", "migrated_fynedo", "-o", app, ".")
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
		LicenseID   string    `json:"license_id"`
		TokenID     string    `json:"token_id"`
		TokenExpiry time.Time `json:"token_expiry"`
	} `json:"license"`
}

// licenceStatus runs `licensedesk status --json` against the running app's
// data directory, as a monitoring script would.
func licenceStatus(ctx context.Context, bin string, env []string) (statusJSON, error) {
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
		last, lastErr = licenceStatus(ctx, bin, env)
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
