package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

// serviceName is the agent's Windows service.
const serviceName = "LicenseDeskAgent"

// serviceWaitHint is how long the agent may take to start (the store's
// open) or stop (the local API's shutdown, the store's close) before the
// service manager gives up on it.
const serviceWaitHint = 15000 // milliseconds

// newAgentService describes the service to kardianos/service, which
// installs, removes, starts and stops it. The service manager starts it as
// `service run`: it says so on its command line rather than leaving the
// program to guess (svc.IsWindowsService looks for services.exe in
// session 0, and wine runs every process in session 1).
func newAgentService(cfg Config) (service.Service, error) {
	return service.New(noInteractive{}, &service.Config{
		Name: serviceName, DisplayName: "License Desk agent",
		Description: "Keeps this point-of-sale server's license token fresh and hands it to the POS server.",
		Arguments:   []string{"service", "run", "-data", cfg.DataDir, "-socket", cfg.Socket},
	})
}

// noInteractive: kardianos/service only installs and controls the service
// here (its Run is never called); running it is runAsService's.
type noInteractive struct{}

func (noInteractive) Start(service.Service) error { return nil }
func (noInteractive) Stop(service.Service) error  { return nil }

// runAgentMaybeService runs the agent under the Service Control Manager
// when Windows started it as a service with the plain `agent` command (as
// registered by hand), else in the foreground.
func runAgentMaybeService(cfg Config, stderr io.Writer) int {
	if service.Interactive() {
		return serveAgent(cfg, stderr, nil, nil)
	}
	return runAsService(cfg, stderr)
}

// runService is `licensedesk service install|uninstall|start|stop|run`.
func runService(cfg Config, stdout, stderr io.Writer) int {
	if len(cfg.Args) != 1 {
		fmt.Fprintln(stderr, "licensedesk service: install, uninstall, start or stop")
		return exitUsage
	}
	if cfg.Args[0] == "run" {
		return runAsService(cfg, stderr)
	}
	s, err := newAgentService(cfg)
	if err == nil {
		err = service.Control(s, cfg.Args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "licensedesk service %s: %v\n", cfg.Args[0], err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "License Desk agent service: %s done.\n", cfg.Args[0])
	return 0
}

// runAsService hands the process to the Service Control Manager, which
// runs the agent through agentHandler until it is stopped.
func runAsService(cfg Config, stderr io.Writer) int {
	h := &agentHandler{cfg: cfg}
	err := svc.Run(serviceName, h)
	if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
		fmt.Fprintln(stderr, "licensedesk service run: only the service manager runs this; use `licensedesk service start`, or `licensedesk agent` in the foreground")
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "License Desk agent service: %v\n", err)
		return exitFailed
	}
	return h.code
}

// agentHandler runs the agent for the Service Control Manager. The
// service is Running once the agent listens on its pipe; an agent that
// cannot start stops the service with its exit code, and what it would
// have printed goes to its log (a service has no console).
type agentHandler struct {
	cfg  Config
	code int
}

func (h *agentHandler) Execute(_ []string, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending, WaitHint: serviceWaitHint}
	var out tailBuffer
	stop := make(chan struct{})
	ready := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- serveAgent(h.cfg, &out, stop, func() { close(ready) }) }()
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	for {
		select {
		case <-ready:
			status <- svc.Status{State: svc.Running, Accepts: accepts}
			ready = nil
		case h.code = <-done:
			// The agent ended without being asked: it could not start,
			// or `licensedesk stop` reached it.
			if h.code != 0 {
				logServiceFailure(h.cfg, h.code, out.String())
			}
			return h.code != 0, uint32(h.code)
		case r := <-reqs:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: serviceWaitHint}
				close(stop)
				h.code = <-done
				return h.code != 0, uint32(h.code)
			}
		}
	}
}

// logServiceFailure writes why the agent service could not run to the
// agent's log, where an administrator looks (the messages written before
// the agent had opened its log, or instead of it, would otherwise be lost).
func logServiceFailure(cfg Config, code int, msg string) {
	log, f, err := newLogger(cfg.DataDir, cfg.LogLevel, io.Discard, "licensedesk.log")
	if err != nil {
		return
	}
	defer f.Close()
	log.Error().Int("exit", code).Msg("the agent service stopped: " + strings.TrimSpace(msg))
}

// tailBuffer keeps the last few KiB of the agent's console output (its
// goroutines write concurrently): enough for why it stopped, bounded
// however long the service runs.
type tailBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

const tailBufferSize = 4 << 10

func (l *tailBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if over := l.b.Len() - tailBufferSize; over > 0 {
		l.b.Next(over)
	}
	return len(p), nil
}

func (l *tailBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
