package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/localapi"
)

// agentStartTimeout bounds the wait for a per-user agent this process
// started (opening the store, then the socket).
const agentStartTimeout = 20 * time.Second

// ensureAgent connects to the agent on cfg.Socket, starting a per-user one
// (this program's `agent` command, detached) when none answers.
func ensureAgent(cfg Config, log zerolog.Logger) (*localapi.Client, error) {
	cl, err := connectAgent(cfg)
	if err == nil {
		return cl, nil
	}
	exe, err := programFor("agent")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, agentArgs(cfg)...)
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the License Desk agent: %w", err)
	}
	log.Info().Int("pid", cmd.Process.Pid).Str("socket", cfg.Socket).Msg("started a per-user agent")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(agentStartTimeout)
	for time.Now().Before(deadline) {
		if cl, err := localapi.Dial(cfg.Socket); err == nil {
			return cl, nil
		}
		select {
		case err := <-exited:
			// Another agent may have won the race for the store.
			if cl, derr := localapi.Dial(cfg.Socket); derr == nil {
				return cl, nil
			}
			return nil, fmt.Errorf("%w: the agent it started stopped at once (%v); see licensedesk.log in %s", localapi.ErrAgentUnreachable, err, cfg.DataDir)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("%w: the agent it started did not answer within %s", localapi.ErrAgentUnreachable, agentStartTimeout)
}

// connectAgent connects to a running agent and starts none: a script
// asking for the token must not start agents as a side effect.
func connectAgent(cfg Config) (*localapi.Client, error) {
	cl, err := localapi.Dial(cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, cfg.Socket)
	}
	return cl, nil
}

// agentArgs are the flags a per-user agent inherits from its starter.
func agentArgs(cfg Config) []string {
	args := []string{"agent", "-data", cfg.DataDir, "-socket", cfg.Socket, "-log-level", cfg.LogLevel.String(),
		"-device-name", cfg.DeviceName}
	if cfg.AuthorityURL != "" {
		args = append(args, "-authority", cfg.AuthorityURL)
	}
	if cfg.RootKey != "" {
		args = append(args, "-root-key", cfg.RootKey)
	}
	if cfg.Demo {
		args = append(args, "-demo", "-demo-addr", cfg.DemoAddr)
	}
	return args
}

// errInstanceRunning: another process holds the instance socket and
// answered.
var errInstanceRunning = errors.New("already running")

// claimInstance makes this process the single instance behind path (the
// window's or the tray's socket): a later one's "show" calls show. When
// another instance answers, it is asked to show itself and
// errInstanceRunning is returned.
func claimInstance(path string, show func()) (net.Listener, error) {
	l, err := listenLocal(path)
	if err != nil {
		if conn, derr := dialLocal(path, time.Second); derr == nil {
			_, _ = conn.Write([]byte("show\n"))
			conn.Close()
			return nil, errInstanceRunning
		}
		removeStale(path) // nobody answers: a crashed instance's socket
		if l, err = listenLocal(path); err != nil {
			return nil, err
		}
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 8)
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := conn.Read(buf)
			conn.Close()
			if string(buf[:n]) == "show\n" && show != nil {
				show()
			}
		}
	}()
	return l, nil
}

// The two builds of this program, installed side by side: the full one
// with the window, and the one without Fyne and OpenGL that runs the
// processes which stay (the agent and the tray, a fraction of the
// window's memory) and the command line.
const (
	windowProgram   = "licensedesk"
	headlessProgram = "licensedesk-agent"
)

// programFor is the program to start for command: the agent and the tray
// run from the headless build when it is installed beside this one, the
// window from the full build; otherwise this program runs them all.
func programFor(command string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	return pickProgram(self, command, windowBuilt), nil
}

// pickProgram is programFor for the program at self, built with or
// without the window.
func pickProgram(self, command string, window bool) string {
	want := headlessProgram
	if command == "gui" {
		if window {
			return self
		}
		want = windowProgram
	}
	sibling := filepath.Join(filepath.Dir(self), want+filepath.Ext(self))
	if fi, err := os.Stat(sibling); err == nil && fi.Mode().IsRegular() {
		return sibling
	}
	return self
}
