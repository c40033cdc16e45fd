package app

import (
	"context"
	"net"
	"time"

	"github.com/Microsoft/go-winio"

	"licensedesk/licensecore/localapi"
)

// On Windows the single-instance endpoints are named pipes (wine has no
// AF_UNIX), named after the path as the agent's is, open to this user only.

func listenLocal(path string) (net.Listener, error) {
	return localapi.ListenPipe(path)
}

func dialLocal(path string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return winio.DialPipeContext(ctx, localapi.PipeName(path))
}

// removeStale: a pipe ends with its server; nothing is left behind.
func removeStale(string) {}
