package app

import (
	"io"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"
)

// newLogger logs to <data>/licensedesk.log (appended, not rotated: a
// license manager writes a few lines a day) and to stderr for whoever
// started it from a terminal.
func newLogger(dataDir string, level zerolog.Level, stderr io.Writer, name string) (zerolog.Logger, io.Closer, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return zerolog.Nop(), nil, err
	}
	f, err := os.OpenFile(filepath.Join(dataDir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return zerolog.Nop(), nil, err
	}
	// Colour only on a terminal: a redirected stderr is a file someone reads.
	console := zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05", NoColor: !isTerminal(stderr)}
	l := zerolog.New(zerolog.MultiLevelWriter(f, console)).Level(level).With().Timestamp().Logger()
	return l, f, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
