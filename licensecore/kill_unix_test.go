//go:build !windows

package licensecore

import (
	"os"
	"syscall"
)

// WasKilled tells whether a child process ended by Process.Kill (SIGKILL
// here), not by exiting. Exported for the licensecore_test tests too.
func WasKilled(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
