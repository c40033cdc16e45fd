//go:build windows

package localapi

import (
	"context"
	"fmt"
	"net"
)

// Listen will open the agent's named pipe; not built yet.
func Listen(path, group string) (net.Listener, error) {
	return nil, fmt.Errorf("%w: named pipe %s", ErrNotSupported, path)
}

func dialAgent(_ context.Context, path string) (net.Conn, error) {
	return nil, fmt.Errorf("%w: named pipe %s", ErrNotSupported, path)
}

// connIsOwner: the named pipe's ACL admits only the agent's user and the
// administrators to write.
func connIsOwner(net.Conn) bool { return true }
