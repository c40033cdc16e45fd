package app

import (
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// attachConsole gives a command run from a console its output: the
// program is linked as a GUI program (no console window opens behind the
// window), so it has none of its own.
func attachConsole(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	const attachParentProcess = ^uintptr(0)
	proc := windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")
	if r, _, _ := proc.Call(attachParentProcess); r == 0 {
		return stdout, stderr // started without a console, or it has one
	}
	out, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0)
	if err != nil {
		return stdout, stderr
	}
	return out, out
}
