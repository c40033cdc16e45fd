package app

import (
	"fmt"
	"io"

	"github.com/kardianos/service"
)

// serviceName is the agent's Windows service.
const serviceName = "LicenseDeskAgent"

// agentService adapts the agent to the Service Control Manager: Start
// runs it in the background, Stop asks it to end in order.
type agentService struct {
	cfg    Config
	stderr io.Writer
	stop   chan struct{}
	done   chan int
}

func (s *agentService) Start(service.Service) error {
	go func() { s.done <- serveAgent(s.cfg, s.stderr, s.stop) }()
	return nil
}

func (s *agentService) Stop(service.Service) error {
	close(s.stop)
	<-s.done
	return nil
}

func newAgentService(cfg Config, stderr io.Writer) (service.Service, *agentService, error) {
	prg := &agentService{cfg: cfg, stderr: stderr, stop: make(chan struct{}), done: make(chan int, 1)}
	s, err := service.New(prg, &service.Config{
		Name: serviceName, DisplayName: "License Desk agent",
		Description: "Keeps this point-of-sale server's license token fresh and hands it to the POS server.",
		Arguments:   []string{"agent", "-data", cfg.DataDir, "-socket", cfg.Socket},
	})
	return s, prg, err
}

// runAgentMaybeService runs the agent under the Service Control Manager
// when Windows started it as a service, else in the foreground.
func runAgentMaybeService(cfg Config, stderr io.Writer) int {
	if service.Interactive() {
		return serveAgent(cfg, stderr, nil)
	}
	s, _, err := newAgentService(cfg, stderr)
	if err == nil {
		err = s.Run()
	}
	if err != nil {
		fmt.Fprintf(stderr, "License Desk agent service: %v\n", err)
		return 1
	}
	return 0
}

// runService is `licensedesk service install|uninstall|start|stop`.
func runService(cfg Config, stdout, stderr io.Writer) int {
	if len(cfg.Args) != 1 {
		fmt.Fprintln(stderr, "licensedesk service: install, uninstall, start or stop")
		return exitUsage
	}
	s, _, err := newAgentService(cfg, stderr)
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
