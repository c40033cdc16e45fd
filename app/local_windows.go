package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/Microsoft/go-winio"
)

// On Windows the single-instance endpoints are named pipes (wine has no
// AF_UNIX), named after the path, open to this user only.

func localPipe(path string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(path))))
	return `\\.\pipe\LicenseDesk-` + hex.EncodeToString(sum[:8])
}

func listenLocal(path string) (net.Listener, error) {
	return winio.ListenPipe(localPipe(path), &winio.PipeConfig{SecurityDescriptor: "D:P(A;;GA;;;OW)(A;;GA;;;SY)"})
}

func dialLocal(path string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return winio.DialPipeContext(ctx, localPipe(path))
}

// removeStale: a pipe ends with its server; nothing is left behind.
func removeStale(string) {}
