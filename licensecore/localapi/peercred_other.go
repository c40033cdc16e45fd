//go:build !linux && !windows

package localapi

import "net"

// connIsOwner: without SO_PEERCRED the agent cannot tell who asks, so
// stopping it over the socket is refused (a signal still works).
func connIsOwner(net.Conn) bool { return false }
