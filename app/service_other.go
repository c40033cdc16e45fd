//go:build !windows

package app

import (
	"fmt"
	"io"
)

// runAgentMaybeService runs the agent in the foreground: systemd (the
// units in assets/systemd) supervises it on Linux.
func runAgentMaybeService(cfg Config, stderr io.Writer) int {
	return serveAgent(cfg, stderr, nil, nil)
}

// runService points at the systemd units: `make install` places them.
func runService(_ Config, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "licensedesk service: on this system the agent runs under systemd; `sudo make install` installs and enables licensedesk-agent.service")
	return exitUsage
}
