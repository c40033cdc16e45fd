//go:build !windows

package app

import "io"

// attachConsole: commands inherit the terminal's output here.
func attachConsole(stdout, stderr io.Writer) (io.Writer, io.Writer) { return stdout, stderr }
