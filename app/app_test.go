package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

func openTestStore(t *testing.T, dir string) *licensecore.Store {
	t.Helper()
	s, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(dir, "store"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storedLicense writes a license whose token expires in tokenLeft and
// whose renewal date is renewIn away.
func storedLicense(t *testing.T, s *licensecore.Store, tokenLeft, renewIn time.Duration) licensecore.License {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	l := licensecore.License{
		ServerID: "POS-9", LicenseID: "LIC-9", Type: wire.Subscription, Features: []string{"xms"},
		TokenID: "jti-9", TokenIssuedAt: now.Add(tokenLeft - 72*time.Hour), TokenExpiry: now.Add(tokenLeft),
		RenewalDate: now.Add(renewIn),
	}
	if err := s.SaveLicense(l, licensecore.Tokens{License: "x.y.z", Refresh: "r"}, ""); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseFlags(t *testing.T) {
	t.Setenv("LICENSEDESK_HOME", "/tmp/ld-home")
	c, err := parseFlags("t", []string{"-authority", "https://a.example", "-log-level", "debug", "-json"}, io.Discard)
	if err != nil || c.DataDir != "/tmp/ld-home" || c.AuthorityURL != "https://a.example" || c.LogLevel != zerolog.DebugLevel || !c.JSON || c.Command != "" {
		t.Fatalf("%+v %v", c, err)
	}
	if c.Socket != filepath.Join("/tmp/ld-home", "agent.sock") {
		t.Fatalf("default socket %q", c.Socket)
	}
	if _, err := parseFlags("t", []string{"-log-level", "loud"}, io.Discard); err == nil {
		t.Fatal("unknown log level accepted")
	}
	// A command anywhere, its flags before or after it, its argument kept.
	for _, args := range [][]string{
		{"-data", "/d", "verify", "-json", "TOKEN"},
		{"verify", "-data", "/d", "TOKEN", "-json"},
		{"-json", "verify", "TOKEN", "-data", "/d"},
	} {
		c, err := parseFlags("t", args, io.Discard)
		if err != nil || c.Command != "verify" || c.DataDir != "/d" || !c.JSON || !slices.Equal(c.Args, []string{"TOKEN"}) || c.Socket != filepath.Join("/d", "agent.sock") {
			t.Fatalf("%q: %+v %v", args, c, err)
		}
	}
	if c, err := parseFlags("t", []string{"-data", "/d", "status"}, io.Discard); err != nil || c.Command != "status" {
		t.Fatalf("`-data D status` must be the status command: %+v %v", c, err)
	}
	var help bytes.Buffer
	if _, err := parseFlags("t", []string{"-help"}, &help); !errors.Is(err, flag.ErrHelp) || strings.Contains(help.String(), "status-tick") ||
		!strings.Contains(help.String(), "agent ") || !strings.Contains(help.String(), "token ") {
		t.Fatalf("help: %v\n%s", err, help.String())
	}
	t.Setenv("LICENSEDESK_STATUS_TICK", "1s")
	if c, err := parseFlags("t", nil, io.Discard); err != nil || c.StatusTick != time.Second {
		t.Fatalf("status tick from the environment: %+v %v", c, err)
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	got, err := loadSettings(s)
	if err != nil || got != defaultSettings() {
		t.Fatalf("defaults: %+v %v", got, err)
	}
	want := plain.Settings{AuthorityURL: "https://lic.example", RenewalWindowDays: 14, TokenWarnHours: 12, TokenWarnPercent: 10, StartMinimized: true}
	if err := saveSettings(s, want); err != nil {
		t.Fatal(err)
	}
	if got, err = loadSettings(s); err != nil || got != want {
		t.Fatalf("got %+v %v", got, err)
	}
	p := policyOf(got)
	if p.RenewalWindow != 14*24*time.Hour || p.TokenWarnBefore != 12*time.Hour || p.TokenWarnFraction != 0.10 {
		t.Fatalf("policy %+v", p)
	}
	if err := s.SetSetting(setRenewalDays, "soon"); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSettings(s); err == nil {
		t.Fatal("a damaged setting was accepted")
	}
}

func TestStatusCommand(t *testing.T) {
	cases := []struct {
		name      string
		tokenLeft time.Duration
		renewIn   time.Duration
		status    string
		code      int
	}{
		{"licensed", 60 * time.Hour, 90 * 24 * time.Hour, "Licensed", 0},
		{"renewal due", 60 * time.Hour, 5 * 24 * time.Hour, "Requires Renewal", 1},
		{"token expiring", 2 * time.Hour, 90 * 24 * time.Hour, "Licensed", 1},
		{"expired", 60 * time.Hour, -time.Hour, "Expired – Requires Renewal", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			storedLicense(t, s, tc.tokenLeft, tc.renewIn)
			s.Close()
			cfg := Config{DataDir: dir, JSON: true}
			var out bytes.Buffer
			code := runStatus(cfg, &out, io.Discard)
			var got struct {
				Status  string `json:"status"`
				License struct {
					ServerID string `json:"server_id"`
				} `json:"licence"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			if code != tc.code || got.Status != tc.status || got.License.ServerID != "POS-9" {
				t.Fatalf("exit %d, %+v; want %d %q", code, got, tc.code, tc.status)
			}
		})
	}
	t.Run("unlicensed", func(t *testing.T) {
		var out bytes.Buffer
		if code := runStatus(Config{DataDir: t.TempDir()}, &out, io.Discard); code != 2 || !bytes.Contains(out.Bytes(), []byte("Not licensed")) {
			t.Fatalf("exit %d: %s", code, out.String())
		}
	})
	t.Run("while the app runs", func(t *testing.T) {
		dir := t.TempDir()
		s := openTestStore(t, dir) // the "running app" holds the lock
		defer s.Close()
		l := storedLicense(t, s, 60*time.Hour, 90*24*time.Hour)
		if code := runStatus(Config{DataDir: dir, JSON: true}, io.Discard, io.Discard); code != 3 {
			t.Fatalf("no snapshot yet: exit %d, want 3", code)
		}
		st := licensecore.Evaluate(&l, time.Now(), licensecore.DefaultPolicy())
		if err := writeSnapshot(dir, st, licensecore.DefaultPolicy()); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if code := runStatus(Config{DataDir: dir, JSON: true}, &out, io.Discard); code != 0 || !bytes.Contains(out.Bytes(), []byte(`"jti-9"`)) {
			t.Fatalf("exit %d: %s", code, out.String())
		}
	})
}

func TestNotifierSendsEachThresholdOnce(t *testing.T) {
	dir := t.TempDir()
	p := licensecore.DefaultPolicy()
	var sent []string
	run := func() {
		s := openTestStore(t, dir)
		defer s.Close()
		l := storedLicense(t, s, 2*time.Hour, 6*24*time.Hour)
		n := &notifier{store: s, log: zerolog.Nop(), send: func(title, _ string) { sent = append(sent, title) }}
		st := licensecore.Evaluate(&l, time.Now(), p)
		n.check(st, p)
		n.check(st, p)
	}
	run()
	run() // a restart must not repeat them
	want := []string{"License token expires soon", "License requires renewal"}
	if len(sent) != len(want) || sent[0] != want[0] || sent[1] != want[1] {
		t.Fatalf("sent %q, want %q", sent, want)
	}
}

// fakeRefresh is a refreshService whose health and refresh outcomes the
// test sets.
type fakeRefresh struct {
	mu       sync.Mutex
	healthy  bool
	next     time.Time
	attempts atomic.Int32
	refreshs atomic.Int32

	verifyDue, switchPending bool
	verifies, switchChecks   atomic.Int32
	// stuckPast: the refresh point stays in the past after a refresh (a
	// PC clock far ahead of the authority's).
	stuckPast bool
}

func (f *fakeRefresh) Policy() licensecore.Policy { return licensecore.DefaultPolicy() }

func (f *fakeRefresh) Status() licensecore.Status {
	return licensecore.Status{State: licensecore.Licensed, License: &licensecore.License{TokenExpiry: time.Now().Add(time.Hour)}}
}
func (f *fakeRefresh) NextRefresh() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.next }
func (f *fakeRefresh) CheckHealth(context.Context) error {
	f.attempts.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.healthy {
		return licensecore.ErrAuthorityDown
	}
	return nil
}
func (f *fakeRefresh) RefreshNow(context.Context) (licensecore.Status, error) {
	f.refreshs.Add(1)
	f.mu.Lock()
	f.next = time.Now().Add(time.Hour) // the new token's half-life
	if f.stuckPast {
		f.next = time.Now().Add(-24 * time.Hour)
	}
	f.mu.Unlock()
	return f.Status(), nil
}

func (f *fakeRefresh) VerifyDue() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verifyDue
}
func (f *fakeRefresh) Verify(context.Context) (licensecore.Status, error) {
	f.mu.Lock()
	f.verifyDue = false
	f.mu.Unlock()
	f.verifies.Add(1)
	return f.Status(), nil
}
func (f *fakeRefresh) PendingSwitch() (licensecore.SwitchRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return licensecore.SwitchRequest{}, f.switchPending
}
func (f *fakeRefresh) CheckSwitch(context.Context) (licensecore.SwitchRequest, licensecore.Status, error) {
	f.mu.Lock()
	f.switchPending = false
	f.mu.Unlock()
	f.switchChecks.Add(1)
	return licensecore.SwitchRequest{Status: wire.SwitchApproved}, f.Status(), nil
}

func TestRefresherVerifiesDailyAndChecksSwitches(t *testing.T) {
	f := &fakeRefresh{next: time.Now().Add(time.Hour), verifyDue: true, switchPending: true}
	r := newRefresher(f, zerolog.Nop(), func(licensecore.Status) {})
	r.tick, r.retry = 20*time.Millisecond, licensecore.Retry{Fast: 50 * time.Millisecond, Min: 50 * time.Millisecond, AnswerGrace: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond)
	if f.verifies.Load() != 0 || f.switchChecks.Load() != 0 {
		t.Fatal("verified or checked while the authority was down")
	}
	f.mu.Lock()
	f.healthy = true
	f.mu.Unlock()
	waitFor(t, func() bool { return f.verifies.Load() == 1 && f.switchChecks.Load() == 1 })
	time.Sleep(100 * time.Millisecond)
	if f.verifies.Load() != 1 || f.switchChecks.Load() != 1 || f.refreshs.Load() != 0 {
		t.Fatalf("verify %d, switch %d, refresh %d: each once, and no refresh before its time",
			f.verifies.Load(), f.switchChecks.Load(), f.refreshs.Load())
	}
}

func TestRefresherBacksOffWhileOfflineThenRefreshes(t *testing.T) {
	f := &fakeRefresh{next: time.Now()} // due at once
	var published atomic.Int32
	r := newRefresher(f, zerolog.Nop(), func(licensecore.Status) { published.Add(1) })
	r.tick, r.retry = 20*time.Millisecond, licensecore.Retry{Fast: 50 * time.Millisecond, Min: 50 * time.Millisecond, Max: 200 * time.Millisecond, AnswerGrace: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, func() bool { return f.attempts.Load() >= 3 })
	if f.refreshs.Load() != 0 {
		t.Fatal("refreshed while the authority was down")
	}
	// Back-off: three attempts need at least 50+100 ms (−20 % jitter).
	f.mu.Lock()
	f.healthy = true
	f.mu.Unlock()
	r.Kick()
	waitFor(t, func() bool { return f.refreshs.Load() == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := f.refreshs.Load(); n != 1 {
		t.Fatalf("%d refreshes: once refreshed it must wait for the next half-life", n)
	}
	if published.Load() < 2 {
		t.Fatal("status was not published")
	}
}

func TestSecondInstanceBringsFirstForward(t *testing.T) {
	path := filepath.Join(t.TempDir(), windowSocket)
	shown := make(chan struct{}, 1)
	l, err := claimInstance(path, func() { shown <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := claimInstance(path, nil); !errors.Is(err, errInstanceRunning) {
		t.Fatalf("second instance: %v", err)
	}
	select {
	case <-shown:
	case <-time.After(5 * time.Second):
		t.Fatal("the running instance was not asked to show its window")
	}
	l.Close()
	if runtime.GOOS == "windows" {
		return // a named pipe ends with its process: nothing stale is left
	}
	// A crashed instance leaves its socket behind: the next one takes over.
	stale, err := net.Listen("unix", path+".x")
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if err := os.Rename(path+".x", path); err != nil {
		t.Fatal(err)
	}
	l2, err := claimInstance(path, nil)
	if err != nil {
		t.Fatalf("after a crash: %v", err)
	}
	l2.Close()
}

func TestCoreRefusesSecondInstance(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, AuthorityURL: "http://127.0.0.1:1", LogLevel: zerolog.Disabled, DeviceName: "pc"}
	first, err := openCore(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer first.close()
	if _, err := openCore(cfg, io.Discard); !errors.Is(err, licensecore.ErrAlreadyRunning) {
		t.Fatalf("second core: %v", err)
	}
}

func TestDemoAuthorityServesOnLoopback(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Demo: true, DemoAddr: "127.0.0.1:0", LogLevel: zerolog.Disabled, DeviceName: "Back office"}
	var msg bytes.Buffer
	c, err := openCore(cfg, &msg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if !bytes.Contains(msg.Bytes(), []byte(`"demo"`)) || c.mgr.AuthorityURL() != c.demo.url {
		t.Fatalf("demo login not printed or manager not pointed at it: %s", msg.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.mgr.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	da, err := c.mgr.StartDeviceAuth(ctx)
	if err != nil || da.UserCode == "" {
		t.Fatalf("device authorization from the demo authority: %v", err)
	}
	bad := Config{DataDir: t.TempDir(), Demo: true, DemoAddr: "0.0.0.0:0", LogLevel: zerolog.Disabled}
	if _, err := openCore(bad, io.Discard); err == nil {
		t.Fatal("demo authority listened on a non-loopback address")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRefresherSpacesPastDueRefreshes: a refresh point that stays in the
// past after every refresh (a PC clock days ahead) gives one refresh, then
// waits at least a minute, instead of refreshing in a loop.
func TestRefresherSpacesPastDueRefreshes(t *testing.T) {
	f := &fakeRefresh{healthy: true, next: time.Now().Add(-time.Hour), stuckPast: true}
	r := newRefresher(f, zerolog.Nop(), func(licensecore.Status) {})
	r.tick = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	waitFor(t, func() bool { return f.refreshs.Load() >= 1 })
	time.Sleep(500 * time.Millisecond) // fifty ticks
	cancel()
	<-done
	if n := f.refreshs.Load(); n != 1 {
		t.Fatalf("%d refreshes in half a second with the refresh point stuck in the past, want 1", n)
	}
}
