package main

// The attacker of the load test: from its own loopback addresses it
// floods /device/authorize (each request with a DPoP proof by a fresh key,
// so that only the authority's limits can stop it) and /login (the login
// page, then a wrong password for a random user name), at a fixed rate in
// all, and counts what the authority refused.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"licensedesk/licensecore/wire"
)

type attack struct {
	sent, refused, admitted, failed atomic.Int64
	byStatus                        sync.Map // status code → *atomic.Int64
}

// run floods until deadline from c.attackers addresses, 127.0.0.2 on.
func (a *attack) run(ctx context.Context, c config, deadline time.Time) {
	var wg sync.WaitGroup
	perAddr := c.attackRPS / float64(c.attackers)
	for i := range c.attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.from(ctx, c, net.IPv4(127, 0, 0, byte(i+2)), perAddr, deadline)
		}()
	}
	wg.Wait()
}

// from is one attacker address sending rps requests a second, alternating
// a device authorization and a sign-in attempt.
func (a *attack) from(ctx context.Context, c config, ip net.IP, rps float64, deadline time.Time) {
	tr := transportFrom(ip, 8)
	defer tr.CloseIdleConnections()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rps))
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for n := 0; time.Now().Before(deadline); n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			if n%2 == 0 {
				a.authorize(ctx, c, hc)
			} else {
				a.login(ctx, c, hc)
			}
		}()
	}
}

func (a *attack) authorize(ctx context.Context, c config, hc *http.Client) {
	_, key, _ := ed25519.GenerateKey(nil)
	u := c.url + "/device/authorize"
	form := url.Values{"client_id": {c.client}, "device_name": {"attacker"}, "install_code": {"EVIL-" + strconv.Itoa(rand.IntN(1e6))}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	proof, _ := wire.NewDPoPProof(key, http.MethodPost, u, strconv.FormatUint(rand.Uint64(), 36), time.Now())
	req.Header.Set(wire.HeaderDPoP, proof)
	a.count(hc.Do(req))
}

func (a *attack) login(ctx context.Context, c config, hc *http.Client) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/login", nil)
	resp, err := hc.Do(req)
	if err != nil {
		a.count(resp, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.record(resp.StatusCode)
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		return
	}
	form := url.Values{"username": {"user" + strconv.Itoa(rand.IntN(50))}, "password": {"guess" + strconv.Itoa(rand.IntN(1e9))}, "csrf_token": {string(m[1])}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a.count(hc.Do(req))
}

func (a *attack) count(resp *http.Response, err error) {
	if err != nil {
		a.sent.Add(1)
		a.failed.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	a.record(resp.StatusCode)
}

// record counts one answer: 429 and 403 are refusals, a 200 to
// /device/authorize or a 401 (a password checked) got through.
func (a *attack) record(status int) {
	a.sent.Add(1)
	v, _ := a.byStatus.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	switch status {
	case http.StatusTooManyRequests, http.StatusForbidden, http.StatusServiceUnavailable:
		a.refused.Add(1)
	default:
		a.admitted.Add(1)
	}
}

func (a *attack) report(c config) {
	var parts []string
	a.byStatus.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%d:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	fmt.Printf("attacker: %d addresses, %d requests, %d refused (429/403/503), %d answered, %d failed; by status %s\n",
		c.attackers, a.sent.Load(), a.refused.Load(), a.admitted.Load(), a.failed.Load(), strings.Join(parts, " "))
	fmt.Printf("ATTACK attackers=%d requests=%d refused=%d answered=%d failed=%d\n", c.attackers, a.sent.Load(), a.refused.Load(), a.admitted.Load(), a.failed.Load())
}

// usage samples the authority's process: CPU time from /proc/PID/stat and
// RSS (now and peak) from /proc/PID/status.
type usage struct {
	pid     int
	start   time.Time
	cpu0    time.Duration
	maxFDs  atomic.Int64 // the most descriptors (mostly connections) seen open
	stopFDs chan struct{}
}

func startUsage(pid int) *usage {
	u := &usage{pid: pid, start: time.Now(), stopFDs: make(chan struct{})}
	if pid > 0 {
		u.cpu0 = cpuTime(pid)
		go u.sampleFDs()
	}
	return u
}

// sampleFDs counts the authority's open descriptors every second.
func (u *usage) sampleFDs() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", u.pid)); err == nil && int64(len(fds)) > u.maxFDs.Load() {
			u.maxFDs.Store(int64(len(fds)))
		}
		select {
		case <-u.stopFDs:
			return
		case <-tick.C:
		}
	}
}

func (u *usage) report() {
	if u.pid <= 0 {
		return
	}
	close(u.stopFDs)
	cpu := cpuTime(u.pid) - u.cpu0
	wall := time.Since(u.start)
	rss, hwm := statusKB(u.pid, "VmRSS:"), statusKB(u.pid, "VmHWM:")
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("server: pid %d, CPU %.1f s in %.1f s (%.0f%% of one core), RSS %d MiB (peak %d MiB), at most %d open descriptors; load average %s\n",
		u.pid, cpu.Seconds(), wall.Seconds(), 100*cpu.Seconds()/wall.Seconds(), rss/1024, hwm/1024, u.maxFDs.Load(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("SERVER cpu_s=%.1f cpu_pct=%.0f rss_mib=%d peak_rss_mib=%d max_fds=%d\n", cpu.Seconds(), 100*cpu.Seconds()/wall.Seconds(), rss/1024, hwm/1024, u.maxFDs.Load())
}

// cpuTime is utime + stime of pid (clock ticks of 1/100 s on Linux).
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func statusKB(pid int, field string) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb
		}
	}
	return 0
}
