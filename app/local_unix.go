//go:build !windows

package app

import (
	"net"
	"os"
	"time"
)

// The window's and the tray's single-instance endpoints are Unix sockets
// in the data directory.

func listenLocal(path string) (net.Listener, error) { return net.Listen("unix", path) }

func dialLocal(path string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("unix", path, timeout)
}

func removeStale(path string) { _ = os.Remove(path) }
