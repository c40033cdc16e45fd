package localapi

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// connIsOwner reports whether the peer of a Unix socket connection runs as
// this process's user or as root (SO_PEERCRED).
func connIsOwner(c net.Conn) bool {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	uid := -1
	_ = raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			uid = int(cred.Uid)
		}
	})
	return uid == 0 || uid == os.Getuid()
}
