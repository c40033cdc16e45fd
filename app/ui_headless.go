//go:build headless

package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// windowBuilt: this build has no window.
const windowBuilt = false

// runGUI in the headless build (the agent, the tray and the command line,
// without Fyne's window and OpenGL) hands over to the full program.
func runGUI(cfg Config, stderr io.Writer) int {
	exe, err := programFor("gui")
	if self, _ := os.Executable(); err != nil || exe == self {
		fmt.Fprintf(stderr, "%s has no window: start %s to open it.\n", headlessProgram, windowProgram)
		return 2
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "cannot start %s: %v\n", exe, err)
		return 1
	}
	return 0
}
