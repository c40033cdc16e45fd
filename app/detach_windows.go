package app

import (
	"os/exec"
	"syscall"
)

// detach lets a started agent outlive its starter's console.
func detach(cmd *exec.Cmd) {
	const detachedProcess = 0x00000008
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: detachedProcess}
}
