//go:build linux

package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

// requireAgentTools skips (or, in CI, fails) without what the agent's
// end-to-end tests drive: Chromium for the person approving, go, and tools.
func requireAgentTools(t *testing.T, tools ...string) {
	t.Helper()
	requireParts(t, "agent test", "", nil, append([]string{"go"}, tools...))
}

// agentRun is a `licensedesk agent` process on its own data directory.
type agentRun struct {
	t         *testing.T
	bin, home string
	socket    string
	env       []string
	p         *proc
	authority *authorityRun
}

func startAgent(ctx context.Context, t *testing.T, bin, art string, auth *authorityRun) *agentRun {
	t.Helper()
	home, env := newAppHome(t)
	env = append(env, "LICENSEDESK_STATUS_TICK=1s")
	a := &agentRun{t: t, bin: bin, home: home, socket: filepath.Join(home, "agent.sock"), env: env, authority: auth}
	a.p = startProc(t, "agent", filepath.Join(art, "agent-stderr.log"), env, bin, "agent", "-log-level", "debug",
		"-authority", auth.base, "-root-key", auth.root, "-device-name", e2eDevice)
	t.Cleanup(func() { _ = copyFile(filepath.Join(art, "agent.log"), filepath.Join(home, "licensedesk.log")) })
	for {
		if c, err := net.Dial("unix", a.socket); err == nil {
			c.Close()
			return a
		}
		select {
		case <-ctx.Done():
			t.Fatal("the agent's socket did not appear")
		case <-a.p.done:
			t.Fatalf("the agent exited: %v", a.p.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cli runs `licensedesk ARGS` against the agent and returns its output.
func (a *agentRun) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = append(os.Environ(), a.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// login runs `licensedesk login` and approves its user code in Chromium.
func (a *agentRun) login(ctx context.Context, installCode string) string {
	t := a.t
	cmd := exec.CommandContext(ctx, a.bin, "login")
	cmd.Env = append(os.Environ(), a.env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	codeLine := regexp.MustCompile(`Enter the code\s+([A-Z0-9-]+)\s`)
	sc := bufio.NewScanner(out)
	var printed strings.Builder
	code := ""
	for code == "" && sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		if m := codeLine.FindStringSubmatch(sc.Text()); m != nil {
			code = m[1]
		}
	}
	if code == "" {
		t.Fatalf("`licensedesk login` printed no user code:\n%s", printed.String())
	}
	personApproves(ctx, t, a.authority.base, code, installCode)
	rest, _ := io.ReadAll(out)
	printed.Write(rest)
	if err := cmd.Wait(); err != nil || !strings.Contains(printed.String(), "Licensed: Server ID "+e2eServerID) {
		t.Fatalf("`licensedesk login`: %v\n%s", err, printed.String())
	}
	return printed.String()
}

// socketClient is what a POS server written in any language does: HTTP
// over the agent's Unix socket (curl --unix-socket).
func socketClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
}

func getJSON(ctx context.Context, t *testing.T, c *http.Client, path string, out any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent"+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// simEvent is one line register-sim prints.
type simEvent struct {
	Event  string `json:"event"`
	JTI    string `json:"jti"`
	Reason string `json:"reason"`
}

// TestEndToEndTokenHandOff: the POS side of License Desk, all real
// processes. A headless agent is licensed from the terminal (`licensedesk
// login`, the approval in Chromium); register-sim takes the token from the
// local API and presents it to its peer, which verifies it offline with the
// cached, root-signed key set: accepted. A refresh reaches the register at
// once through the long poll. With the authority stopped and 40 s tokens,
// the token expires and the peer refuses it, saying why. The same token
// also verifies with node's `jose` against the agent's key set.
func TestEndToEndTokenHandOff(t *testing.T) {
	requireAgentTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	art := artifactDir(t)
	appBin, authBin := buildBinaries(t)
	simBin := filepath.Join(t.TempDir(), "register-sim")
	goBuild(t, "build", "-o", simBin, "./cmd/register-sim")
	installCode := thisInstallCode()
	auth := startAuthority(ctx, t, authBin, filepath.Join(art, "handoff-authority.log"), e2eSeed(installCode),
		"-poll-interval", "1s", "-token-lifetime", "40s")
	a := startAgent(ctx, t, appBin, art, auth)

	if out, err := a.cli(ctx, "status"); !strings.Contains(out, "Unlicensed") && !strings.Contains(out, "Not licensed") {
		t.Fatalf("status before login: %v\n%s", err, out)
	}
	a.login(ctx, installCode)

	// The token, from the CLI and from the socket as any program gets it.
	out, err := a.cli(ctx, "token", "-json")
	if err != nil {
		t.Fatalf("licensedesk token -json: %v\n%s", err, out)
	}
	var tok struct {
		Token    string    `json:"token"`
		JTI      string    `json:"jti"`
		ServerID string    `json:"server_id"`
		Expires  time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" || tok.ServerID != e2eServerID {
		t.Fatalf("token -json: %v\n%s", err, out)
	}
	var fromSocket struct {
		Token string `json:"token"`
	}
	getJSON(ctx, t, socketClient(a.socket), "/v1/token", &fromSocket)
	if fromSocket.Token != tok.Token {
		t.Fatal("GET /v1/token over the socket and `licensedesk token` disagree")
	}
	if plain, err := a.cli(ctx, "token"); err != nil || strings.TrimSpace(plain) != tok.Token {
		t.Fatalf("licensedesk token: %v\n%s", err, plain)
	}
	if out, err := a.cli(ctx, "verify", tok.Token); err != nil || !strings.Contains(out, "Valid: Server ID "+e2eServerID) {
		t.Fatalf("licensedesk verify: %v\n%s", err, out)
	}
	if out, err := a.cli(ctx, "verify", tok.Token[:len(tok.Token)-4]+"AAAA"); err == nil || !strings.Contains(out, "Refused") {
		t.Fatalf("licensedesk verify of a tampered token: %v\n%s", err, out)
	}

	// The register and its peer.
	simCtx, simCancel := context.WithCancel(ctx)
	defer simCancel()
	sim := exec.CommandContext(simCtx, simBin, "-socket", a.socket, "-root-key", auth.root, "-every", "1s")
	simOut, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	simErr, err := os.Create(filepath.Join(art, "register-sim-stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer simErr.Close()
	sim.Stderr = simErr
	sim.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { simCancel(); _ = sim.Wait() }()
	events := make(chan simEvent, 256)
	go func() {
		sc := bufio.NewScanner(simOut)
		for sc.Scan() {
			var e simEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				events <- e
			}
		}
		close(events)
	}()
	next := func(what string, ok func(simEvent) bool, within time.Duration) simEvent {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case e, open := <-events:
				if !open {
					t.Fatalf("register-sim stopped before %s", what)
				}
				if ok(e) {
					return e
				}
			case <-deadline:
				t.Fatalf("no %s within %s", what, within)
			}
		}
	}
	first := next("first presentation", func(e simEvent) bool { return true }, 30*time.Second)
	if first.Event != "accepted" || first.JTI != tok.JTI {
		t.Fatalf("the licensed server's token at the peer: %+v, want accepted %s", first, tok.JTI)
	}

	// A refresh: the register has the new token at once (long poll), not
	// at its next one-second presentation only.
	if out, err := a.cli(ctx, "refresh"); err != nil {
		t.Fatalf("licensedesk refresh: %v\n%s", err, out)
	}
	refreshed := time.Now()
	rotated := next("the refreshed token accepted", func(e simEvent) bool { return e.Event == "accepted" && e.JTI != tok.JTI }, 10*time.Second)
	t.Logf("the refreshed token %s reached the peer %s after the refresh", rotated.JTI, time.Since(refreshed).Round(time.Millisecond))

	// The node JOSE check of the current token against the agent's keys.
	verifyWithNodeJOSE(ctx, t, a, auth.base)

	// The authority goes away for good: within the 40 s lifetime the token
	// expires, and the peer says so.
	auth.stop()
	rejected := next("a rejection after the token expired", func(e simEvent) bool { return e.Event == "rejected" }, 90*time.Second)
	if rejected.Reason != "expired" {
		t.Fatalf("rejection reason %q, want expired", rejected.Reason)
	}
	if out, err := a.cli(ctx, "stop"); err != nil {
		t.Fatalf("licensedesk stop: %v\n%s", err, out)
	}
	select {
	case <-a.p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the agent did not stop")
	}
}

// joseVersion is the npm package the cross-language check installs.
const joseVersion = "jose@5.9.6"

// nodeVerifier is a JOSE verifier in JavaScript, as a POS vendor writing
// its register in another language would: the key set's signature is
// checked with the root key, then the token with the key set.
const nodeVerifier = `
import { compactVerify, importJWK, createLocalJWKSet, jwtVerify } from 'jose';
const { TOKEN, SIGNED_KEYS, ROOT_X, ISSUER, AUDIENCE } = process.env;
const root = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: ROOT_X }, 'EdDSA');
const { payload: setBytes } = await compactVerify(SIGNED_KEYS, root, { algorithms: ['EdDSA'] });
const set = JSON.parse(new TextDecoder().decode(setBytes));
const { payload } = await jwtVerify(TOKEN, createLocalJWKSet({ keys: set.keys }),
  { issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'] });
console.log(JSON.stringify(payload));
`

// verifyWithNodeJOSE installs node's jose (once per machine, in the user's
// cache) and verifies the agent's current token with it, and refuses a
// tampered copy.
func verifyWithNodeJOSE(ctx context.Context, t *testing.T, a *agentRun, issuer string) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if e2eRequired() {
				t.Fatalf("the JOSE check needs %s (make test-deps installs nodejs and npm)", tool)
			}
			t.Skipf("needs %s", tool)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir()
	}
	dir := filepath.Join(cache, "licensedesk-test-jose")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose", "package.json")); err != nil {
		cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--silent", joseVersion)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm install %s: %v\n%s", joseVersion, err, out)
		}
	}
	script := filepath.Join(dir, "verify.mjs")
	if err := os.WriteFile(script, []byte(nodeVerifier), 0o644); err != nil {
		t.Fatal(err)
	}
	c := socketClient(a.socket)
	var tok struct {
		Token string `json:"token"`
	}
	getJSON(ctx, t, c, "/v1/token", &tok)
	var keys struct {
		JWS string `json:"jws"`
	}
	getJSON(ctx, t, c, "/v1/jwks", &keys)
	run := func(token string) (string, error) {
		cmd := exec.CommandContext(ctx, "node", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TOKEN="+token, "SIGNED_KEYS="+keys.JWS,
			"ROOT_X="+strings.TrimPrefix(a.authority.root, "ed25519:"), "ISSUER="+issuer, "AUDIENCE="+wire.DefaultAudience)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(tok.Token)
	var claims struct {
		Sub string `json:"sub"`
	}
	if err != nil || json.Unmarshal([]byte(strings.TrimSpace(out)), &claims) != nil || claims.Sub != e2eServerID {
		t.Fatalf("node jose refused the agent's token: %v\n%s", err, out)
	}
	parts := strings.Split(tok.Token, ".")
	parts[1] = strings.Replace(parts[1], parts[1][:4], "eyJ4", 1) // another payload, same signature
	if out, err := run(strings.Join(parts, ".")); err == nil {
		t.Fatalf("node jose accepted a tampered token:\n%s", out)
	}
}

// TestEndToEndAgentKill9: the agent is killed with SIGKILL at random
// moments while refreshes (store writes, a pair in flight) run through it,
// 12 times. Each time a new agent starts on the same data at once (no
// stale lock, the stale socket reclaimed), the license is still there, and
// its refresh chain still works. A second agent on the same data is
// refused while one runs.
func TestEndToEndAgentKill9(t *testing.T) {
	requireAgentTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	art := artifactDir(t)
	appBin, authBin := buildBinaries(t)
	installCode := thisInstallCode()
	auth := startAuthority(ctx, t, authBin, filepath.Join(art, "kill9-authority.log"), e2eSeed(installCode), "-poll-interval", "1s")
	a := startAgent(ctx, t, appBin, art, auth)
	a.login(ctx, installCode)

	second := exec.CommandContext(ctx, appBin, "agent", "-authority", auth.base, "-root-key", auth.root)
	second.Env = append(os.Environ(), a.env...)
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "Another License Desk agent already uses") {
		t.Fatalf("a second agent on the same data: %v\n%s", err, out)
	}

	tokens := map[string]bool{}
	for i := range 12 {
		// A refresh in flight, and the agent killed 0–60 ms into it.
		refresh := exec.CommandContext(ctx, appBin, "refresh")
		refresh.Env = append(os.Environ(), a.env...)
		if err := refresh.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i*5) * time.Millisecond)
		_ = a.p.cmd.Process.Signal(syscall.SIGKILL)
		<-a.p.done
		_ = refresh.Wait()
		a.p = startProc(t, "agent", filepath.Join(art, "agent-stderr.log"), a.env, appBin, "agent", "-log-level", "debug",
			"-authority", auth.base, "-root-key", auth.root, "-device-name", e2eDevice)
		out, err := a.cli(ctx, "token", "-json")
		for err != nil && ctx.Err() == nil && !a.p.exited() {
			time.Sleep(50 * time.Millisecond)
			out, err = a.cli(ctx, "token", "-json")
		}
		if err != nil {
			t.Fatalf("kill %d: no token from the restarted agent: %v\n%s", i, err, out)
		}
		var tok struct {
			JTI   string `json:"jti"`
			State string `json:"state"`
		}
		if json.Unmarshal([]byte(out), &tok) != nil || tok.JTI == "" {
			t.Fatalf("kill %d: %s", i, out)
		}
		tokens[tok.JTI] = true
		if out, err := a.cli(ctx, "refresh"); err != nil {
			t.Fatalf("kill %d: the chain after the restart: %v\n%s", i, err, out)
		}
	}
	t.Logf("12 kills, %d distinct tokens seen after restarts; every restart licensed and refreshable", len(tokens))
}
