//go:build !windows

package app

import (
	"os/exec"
	"syscall"
)

// detach lets a started agent outlive its starter and its terminal.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
