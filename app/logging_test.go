package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestLogHasNoColourCodes: stderr redirected to a file (as a service
// manager or a support script does) gets plain text, and the log file is
// JSON lines without escape codes.
func TestLogHasNoColourCodes(t *testing.T) {
	dir := t.TempDir()
	errFile, err := os.Create(filepath.Join(dir, "stderr.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, w := range []struct {
		name string
		out  interface{ Write([]byte) (int, error) }
	}{{"a file", errFile}, {"a buffer", &buf}} {
		log, lf, err := newLogger(dir, zerolog.InfoLevel, w.out, "test.log")
		if err != nil {
			t.Fatal(err)
		}
		log.Warn().Str("socket", "/run/x").Msg("agent started")
		lf.Close()
	}
	errFile.Close()
	for _, name := range []string{"stderr.txt", "test.log"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("\x1b[")) || !bytes.Contains(raw, []byte("agent started")) {
			t.Fatalf("%s: %q", name, raw)
		}
	}
	if strings.Contains(buf.String(), "\x1b[") {
		t.Fatalf("buffer: %q", buf.String())
	}
}
