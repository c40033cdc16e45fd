// Command soak runs a year of License Desk token refreshes in a few
// minutes: a simulated fleet of installations, each with its own Badger
// store, install key and device in the authority's seed, against the real
// reference authority on loopback. One simulated clock is injected as Now
// into the authority and, with a per-installation skew, into every
// Manager; nothing sleeps.
//
//	go run ./bench/soak -installs 200 -days 365 -fault 0.10
//
// Each installation does what the app's refresher does: at the token's
// refresh point it checks the authority's health and calls RefreshNow;
// after a failure it backs off (30 s doubling to 30 min, ±20 % jitter;
// -retry-max changes the cap) and tries again. Each HTTP call fails with probability -fault, in one of
// five ways (drop the request, drop the answer after the server processed
// it, a 500 HTML page from a proxy, a reset half-way through the body, an
// answer later than the client's timeout). PC clocks are off by up to
// ±-skew and now and then jump 20 days ahead for a few hours before being
// corrected; the authority rotates its signing key every -rotate.
//
// Checked at every step: an installation that reaches the authority at
// least once per token lifetime is never locked out (status Unlicensed or
// token expired for longer than one lifetime, or the token expired by the
// authority's time); a spent refresh token presented again within the
// grace window gets the same pair (one live chain per Server ID) and never
// "already used". At the end every installation must refresh once more
// without faults. Exit status 1 on any lock-out or violation.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
)

type config struct {
	installs int
	days     int
	fault    float64
	lifetime time.Duration
	grace    time.Duration
	step     time.Duration
	skew     time.Duration
	jumps    float64
	rotate   time.Duration
	retryMax time.Duration
	workers  int
	seed     uint64
	dir      string
	verbose  bool
	trace    string
}

type sim struct {
	cfg    config
	clock  *simClock
	start  time.Time
	policy licensecore.Policy
	ts     *httptest.Server
	auth   *authority.Server
	fleet  []*install

	faultsOn atomic.Bool
	calls    atomic.Int64
	faults   [numFaultKinds]atomic.Int64

	attempts, refreshes, healthFails atomic.Int64
	rotations, graceReplays          atomic.Int64
	lateRetryRefusals, reRotations   atomic.Int64
	rollbackRefusals                 atomic.Int64

	mu            sync.Mutex
	violations    []string
	lost          map[string]int // pairs the server issued and the client did not keep, by reason
	lockouts      []string
	lockCauses    map[string]int
	unreachable   int
	excursions    int
	expiredHours  float64 // install-hours with a token expired by the authority's time
	keyRotations  int
	finalFailures []string
}

func main() { os.Exit(soak()) }

// soak runs the command and returns its exit status.
func soak() int {
	var c config
	flag.IntVar(&c.installs, "installs", 200, "installations in the fleet")
	flag.IntVar(&c.days, "days", 365, "simulated days")
	flag.Float64Var(&c.fault, "fault", 0.10, "probability that an HTTP call to the authority fails (0..1)")
	flag.DurationVar(&c.lifetime, "lifetime", 72*time.Hour, "license token lifetime")
	flag.DurationVar(&c.grace, "grace", 10*time.Minute, "the authority's refresh grace window")
	flag.DurationVar(&c.step, "step", time.Hour, "simulation step (clock skews and invariants); retries run in between")
	flag.DurationVar(&c.skew, "skew", 2*time.Hour, "PC clocks are off by up to ± this much")
	flag.Float64Var(&c.jumps, "jumps", 0.5, "expected +20 days clock excursions per installation per year")
	flag.DurationVar(&c.rotate, "rotate", 30*24*time.Hour, "the authority rotates its signing key this often (0: never)")
	flag.DurationVar(&c.retryMax, "retry-max", 30*time.Minute, "the refresher's longest back-off (the app's: 30m; it starts at 30s and doubles)")
	flag.IntVar(&c.workers, "workers", 2*runtime.GOMAXPROCS(0), "installations refreshing at the same time")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.StringVar(&c.dir, "dir", "", "directory for the stores (default: a new temporary directory, on /dev/shm when there is one, removed at the end)")
	flag.BoolVar(&c.verbose, "v", false, "print every lock-out and violation as it happens")
	flag.StringVar(&c.trace, "trace", "", "print every call of this Server ID that reaches the authority (debugging)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if c.installs < 1 || c.days < 1 || c.fault < 0 || c.fault > 1 || c.step <= 0 || c.workers < 1 {
		fmt.Fprintln(os.Stderr, "soak: bad flags")
		return 2
	}
	bad, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	if bad {
		return 1
	}
	return 0
}

func run(c config) (bool, error) {
	wall := time.Now()
	dir := c.dir
	if dir == "" {
		d, err := os.MkdirTemp(tempBase(), "licensedesk-soak-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	s := &sim{cfg: c, clock: newClock(start), start: start, policy: licensecore.DefaultPolicy(),
		lost: map[string]int{}, lockCauses: map[string]int{}}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConns, base.MaxIdleConnsPerHost = 4*c.workers+c.installs, 4*c.workers+c.installs
	for i := range c.installs {
		in, err := s.openInstall(dir, i, base)
		if err != nil {
			return false, err
		}
		defer in.store.Close()
		s.fleet = append(s.fleet, in)
	}
	if err := s.startAuthority(dir); err != nil {
		return false, err
	}
	defer s.auth.Close()
	defer s.ts.Close()
	for _, in := range s.fleet {
		if err := s.newManager(in, base); err != nil {
			return false, err
		}
	}
	if err := s.acquire(); err != nil {
		return false, err
	}
	setup := time.Since(wall)
	for _, in := range s.fleet {
		in.baseSkew = s.drawSkew(in)
		in.skew.Store(int64(in.baseSkew))
	}
	s.faultsOn.Store(true)
	end := start.Add(time.Duration(c.days) * 24 * time.Hour)
	nextRotate := start.Add(c.rotate)
	for t := start; t.Before(end); t = t.Add(c.step) {
		s.clock.Set(t)
		if c.rotate > 0 && !t.Before(nextRotate) {
			if err := s.auth.RotateKey(); err != nil {
				return false, err
			}
			s.keyRotations++
			nextRotate = nextRotate.Add(c.rotate)
		}
		for _, in := range s.fleet {
			s.moveClock(in, t)
		}
		s.runUntil(t, t.Add(c.step))
		s.check()
	}
	s.faultsOn.Store(false)
	s.final()
	s.report(setup, time.Since(wall))
	return len(s.lockouts) > 0 || len(s.violations) > 0 || len(s.finalFailures) > 0, nil
}

// tempBase is where the stores go by default: tmpfs when the machine has
// one, since every store write is synced and 200 stores syncing to a disk
// would measure the disk, not License Desk.
func tempBase() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", "licensedesk-soak-probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return ""
}

// drawSkew is a PC clock's everyday error: uniform in ±skew.
func (s *sim) drawSkew(in *install) time.Duration {
	if s.cfg.skew <= 0 {
		return 0
	}
	return time.Duration((in.rng.Float64()*2 - 1) * float64(s.cfg.skew))
}

// moveClock changes a PC clock at a step: about monthly its everyday error
// is drawn again (it may go back: the trusted clock's tolerance is 10
// minutes), and now and then it jumps 20 days ahead for 1–24 hours before
// someone corrects it.
func (s *sim) moveClock(in *install, t time.Time) {
	perStep := float64(s.cfg.step) / float64(24*time.Hour)
	switch {
	case !in.jumpUntil.IsZero():
		if !t.Before(in.jumpUntil) {
			in.jumpUntil = time.Time{}
			in.skew.Store(int64(in.baseSkew))
		}
	case in.rng.Float64() < s.cfg.jumps/365*perStep:
		in.jumpUntil = t.Add(time.Duration(1+in.rng.IntN(24)) * time.Hour)
		in.skew.Store(int64(in.baseSkew + 20*24*time.Hour))
		s.mu.Lock()
		s.excursions++
		s.mu.Unlock()
	case in.rng.Float64() < perStep/30:
		in.baseSkew = s.drawSkew(in)
		in.skew.Store(int64(in.baseSkew))
	}
}

// dueAt is when the app's refresher would next try, in true time: the
// token's refresh point by the PC's clock, or the back-off deadline,
// whichever is later.
func (s *sim) dueAt(in *install) (time.Time, bool) {
	if in.lic == nil || in.dead {
		return time.Time{}, false
	}
	due := in.m.NextRefresh().Add(-time.Duration(in.skew.Load()))
	if in.retryAt.After(due) {
		due = in.retryAt
	}
	return due, true
}

// quantum groups retries that fall close together so they run in parallel.
const quantum = 30 * time.Second

// runUntil runs every attempt due in [from, to), in order of time.
func (s *sim) runUntil(from, to time.Time) {
	t := from
	for {
		var due []*install
		next := to
		for _, in := range s.fleet {
			d, ok := s.dueAt(in)
			switch {
			case !ok:
			case !d.After(t):
				due = append(due, in)
			case d.Before(next):
				next = d
			}
		}
		s.parallel(due, s.attempt)
		if len(due) > 0 {
			continue // an attempt may be due again at once (clock still)
		}
		if !next.Before(to) {
			return
		}
		t = s.start.Add((next.Sub(s.start) + quantum - 1) / quantum * quantum)
		if !t.Before(to) {
			return
		}
		s.clock.Set(t)
	}
}

func (s *sim) parallel(ins []*install, fn func(*install)) {
	var wg sync.WaitGroup
	work := make(chan *install)
	for range min(s.cfg.workers, len(ins)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range work {
				fn(in)
			}
		}()
	}
	for _, in := range ins {
		work <- in
	}
	close(work)
	wg.Wait()
}

// attempt is the refresher's attempt: health check, then RefreshNow; a
// failure backs off.
func (s *sim) attempt(in *install) {
	s.attempts.Add(1)
	ctx := context.Background()
	in.tokenFault, in.tokenCalled = faultNone, false
	if err := in.m.CheckHealth(ctx); err != nil {
		s.healthFails.Add(1)
		s.failed(in, err)
		return
	}
	st, err := in.m.RefreshNow(ctx)
	if st.License != nil {
		in.lic = st.License
	}
	if err == nil {
		s.refreshes.Add(1)
		in.backoff, in.retryAt, in.lostSince, in.refused, in.lastErr = 0, time.Time{}, nil, "", ""
		// As the refresher: a refresh point still past after a success (a
		// PC clock far ahead) is spaced out, 1 min doubling to 30 min.
		if now := s.clock.Now(); !in.m.NextRefresh().Add(-time.Duration(in.skew.Load())).After(now) {
			in.pastDue = min(max(2*in.pastDue, time.Minute), 30*time.Minute)
			in.retryAt = now.Add(in.pastDue)
		} else {
			in.pastDue = 0
		}
		return
	}
	if errors.Is(err, licensecore.ErrClockRollback) {
		s.rollbackRefusals.Add(1)
	}
	// The server rotated and the client does not hold the new token: the
	// pair is lost unless a retry within the grace window gets it again.
	// A pair stored as pending (received, not yet verified) is kept.
	pending, _, _ := in.store.Pending()
	if toks, terr := in.store.Tokens(); terr == nil && in.tokenCalled && !in.chainRevoked && toks.Refresh != in.head && pending.Refresh != in.head {
		why := "client refused the pair: " + firstClause(err)
		if errors.Is(err, licensecore.ErrAuthorityDown) || errors.Is(err, licensecore.ErrAuthorityBroken) {
			why = "client dropped the pair: fetching the key set after a key rotation failed"
		}
		if in.tokenFault != faultNone {
			why = "answer lost on the way: " + in.tokenFault.String()
		}
		if in.refused == "" && strings.HasPrefix(why, "client ") {
			in.refused = why
		}
		if in.head == in.lostHead { // a retry for a pair already lost
			why = "retry failed (" + strings.TrimPrefix(strings.TrimPrefix(why, "answer lost on the way: "), "client ") + ")"
		} else {
			in.lostHead = in.head
			s.mu.Lock()
			s.lost[why]++
			s.mu.Unlock()
		}
		in.lostSince = append(in.lostSince, why)
	}
	if in.chainRevoked {
		in.dead = true // every later call is refused the same way
	}
	s.failed(in, err)
}

// firstClause is an error's message up to its first colon: the kind of
// failure without the details.
func firstClause(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ":"); i > 0 {
		msg = msg[:i]
	}
	return msg
}

// failed schedules the next attempt as the app's refresher does
// (licensecore.Retry: fast while the authority may still hold a lost
// answer, then exponential back-off).
func (s *sim) failed(in *install, err error) {
	in.lastErr = shortErr(err)
	now := s.clock.Now()
	if in.backoff == 0 {
		in.failingSince = now
	}
	in.backoff = licensecore.Retry{Max: s.cfg.retryMax}.Next(in.backoff, now.Sub(in.failingSince))
	in.retryAt = now.Add(in.backoff)
}

// shortErr drops the per-call details (tokens, ports) so errors group.
func shortErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "127.0.0.1:"); i >= 0 {
		msg = msg[:i] + "127.0.0.1"
	}
	if len(msg) > 140 {
		msg = msg[:140] + "…"
	}
	return msg
}

// check runs the lock-out invariant over the fleet at the end of a step.
func (s *sim) check() {
	now := s.clock.Now()
	life := s.cfg.lifetime
	for _, in := range s.fleet {
		expired := in.lic == nil || !now.Before(in.lic.TokenExpiry)
		st := licensecore.Evaluate(in.lic, in.clock.Now(), s.policy)
		bad := expired || st.State == licensecore.Unlicensed || st.Token == licensecore.TokenExpired
		if expired {
			s.expiredHours += s.cfg.step.Hours()
		}
		if !bad {
			in.badSince = time.Time{}
			continue
		}
		if in.badSince.IsZero() {
			in.badSince = now
		}
		if in.locked || (!expired && now.Sub(in.badSince) <= life) {
			continue
		}
		// Not reached in a whole lifetime although it tried: the network's
		// fault, not a lock-out.
		if in.lastDelivered.Before(now.Add(-life)) && in.lastAttempt.After(now.Add(-life)) {
			s.unreachable++
			continue
		}
		in.locked = true
		s.lockout(in, now)
	}
}

func (s *sim) lockout(in *install, now time.Time) {
	// kind is the root cause, for the summary: a pair the client itself
	// refused or dropped, else answers lost on the way with every retry in
	// the grace window failing too, else the last error.
	var seen []string
	for _, w := range in.lostSince {
		if !slices.Contains(seen, w) {
			seen = append(seen, w)
		}
	}
	kind := in.refused
	switch {
	case len(seen) == 0:
		kind = "no pair lost; last error: " + firstClause(errors.New(in.lastErr))
	case kind == "":
		kind = "answer lost on the way and no retry within the grace window got it"
	}
	if in.chainRevoked {
		kind += "; then chain revoked (\"used twice\") on a retry after the grace window"
	}
	cause := "pairs lost: " + strings.Join(seen, "; then ") + "; last error: " + in.lastErr
	skew := time.Duration(in.skew.Load()).Round(time.Minute)
	line := fmt.Sprintf("%s locked out at day %.1f (clock skew %s now): %s",
		in.serverID, now.Sub(s.start).Hours()/24, skew, cause)
	s.mu.Lock()
	s.lockouts = append(s.lockouts, line)
	s.lockCauses[kind]++
	s.mu.Unlock()
	if s.cfg.verbose {
		fmt.Println("  LOCK-OUT", line)
	}
}

func (s *sim) violation(in *install, what string) {
	line := fmt.Sprintf("%s at day %.2f: %s", in.serverID, s.clock.Now().Sub(s.start).Hours()/24, what)
	s.mu.Lock()
	s.violations = append(s.violations, line)
	s.mu.Unlock()
	if s.cfg.verbose {
		fmt.Println("  VIOLATION", line)
	}
}

// final: with the network healthy, every installation must refresh once
// more (a refresh eventually succeeds). Three tries, 30 s apart, as the
// refresher would.
func (s *sim) final() {
	for try := range 3 {
		s.clock.Set(s.clock.Now().Add(quantum))
		var left []*install
		for _, in := range s.fleet {
			if in.retryAt.IsZero() || try > 0 {
				left = append(left, in)
			}
		}
		s.parallel(left, func(in *install) {
			if in.lic == nil {
				in.lastErr = "unlicensed"
				return
			}
			if _, err := in.m.RefreshNow(context.Background()); err != nil {
				in.lastErr = shortErr(err)
				return
			}
			in.lastErr, in.retryAt = "", time.Time{}
		})
	}
	// One live chain: a pair the authority withdrew never works again,
	// and presenting it does not harm the chain that replaced it.
	s.parallel(s.fleet, func(in *install) {
		if in.lastErr != "" || len(in.withdrawn) == 0 {
			return
		}
		for _, rt := range first(in.withdrawn, 3) {
			if _, err := in.m.Client().Refresh(context.Background(), rt); err == nil {
				s.violation(in, "fork: a withdrawn refresh token still works (two live chains)")
			}
		}
		if _, err := in.m.RefreshNow(context.Background()); err != nil {
			in.lastErr = "after presenting withdrawn tokens: " + shortErr(err)
		}
	})
	for _, in := range s.fleet {
		if in.lastErr != "" {
			s.finalFailures = append(s.finalFailures, in.serverID+": "+in.lastErr)
		}
	}
}

func (s *sim) report(setup, wall time.Duration) {
	c := s.cfg
	fmt.Printf("soak: %d installations, %d simulated days, token lifetime %s, grace %s, fault probability %.2f per call\n",
		c.installs, c.days, c.lifetime, c.grace, c.fault)
	fmt.Printf("  PC clocks: skew up to ±%s, %d excursions of +20 days; key rotations: %d; refresher back-off 30s..%s\n",
		c.skew, s.excursions, s.keyRotations, c.retryMax)
	fmt.Printf("  refresh attempts %d (health check failed %d, refused for a clock set back %d), refreshes %d, HTTP calls %d\n",
		s.attempts.Load(), s.healthFails.Load(), s.rollbackRefusals.Load(), s.refreshes.Load(), s.calls.Load())
	var total int64
	var kinds []string
	for k := faultKind(1); k < numFaultKinds; k++ {
		n := s.faults[k].Load()
		total += n
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	fmt.Printf("  faults injected %d: %s\n", total, strings.Join(kinds, ", "))
	fmt.Printf("  authority: refresh-token rotations %d, grace replays %d (a retry given the same pair), rotations again after the grace window (the lost pair withdrawn) %d, chains revoked on a retry (\"used twice\") %d\n",
		s.rotations.Load(), s.graceReplays.Load(), s.reRotations.Load(), s.lateRetryRefusals.Load())
	printCounts("  pairs issued but not kept by the client", s.lost)
	fmt.Printf("  install-hours with the token expired by the authority's time: %.0f (%.1f %% of all); unreachable for a whole lifetime: %d\n",
		s.expiredHours, 100*s.expiredHours/float64(c.installs*c.days*24), s.unreachable)
	fmt.Printf("  invariant violations: %d\n", len(s.violations))
	for _, v := range first(s.violations, 10) {
		fmt.Println("    ", v)
	}
	fmt.Printf("  final refresh without faults failed: %d of %d\n", len(s.finalFailures), c.installs)
	for _, f := range first(s.finalFailures, 5) {
		fmt.Println("    ", f)
	}
	fmt.Printf("  LOCK-OUTS: %d\n", len(s.lockouts))
	printCounts("  lock-outs by cause", s.lockCauses)
	for _, l := range first(s.lockouts, 5) {
		fmt.Println("    ", l)
	}
	fmt.Printf("  wall time %s (setup and acquisition %s) on %d CPUs\n",
		wall.Round(10*time.Millisecond), setup.Round(10*time.Millisecond), runtime.NumCPU())
}

func printCounts(title string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	fmt.Println(title + ":")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	for _, k := range keys {
		fmt.Printf("    %6d  %s\n", m[k], k)
	}
}

func first(xs []string, n int) []string {
	xs = slices.Clone(xs)
	if len(xs) > n {
		xs = append(xs[:n], fmt.Sprintf("… and %d more", len(xs)-n))
	}
	return xs
}
