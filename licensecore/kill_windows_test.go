//go:build windows

package licensecore

import "os"

// killedExitCode is the exit code Process.Kill gives on Windows
// (TerminateProcess(h, 1)); the children of the tests never exit with it
// on their own before printing a result.
const killedExitCode = 1

// WasKilled tells whether a child process ended by Process.Kill, not by
// exiting. Windows has no signals: the exit code is all there is. Exported
// for the licensecore_test tests too.
func WasKilled(ps *os.ProcessState) bool {
	return ps != nil && ps.Exited() && ps.ExitCode() == killedExitCode
}
