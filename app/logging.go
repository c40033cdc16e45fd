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
func newLogger(dataDir string, level zerolog.Level, stderr io.Writer) (zerolog.Logger, io.Closer, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return zerolog.Nop(), nil, err
	}
	f, err := os.OpenFile(filepath.Join(dataDir, "licensedesk.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return zerolog.Nop(), nil, err
	}
	console := zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}
	l := zerolog.New(zerolog.MultiLevelWriter(f, console)).Level(level).With().Timestamp().Logger()
	return l, f, nil
}
