//go:build unix

package localapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Listen opens the agent's Unix socket at path. Another agent holding it
// is ErrAgentRunning; a socket nobody answers on (left by a crash) is
// replaced. The socket is mode 0660 for group when that group exists and
// this process may give it the socket, else 0600: who may connect is
// whoever may read tokens. Closing the listener removes the socket.
//
// A lock file beside the socket (path + ".lock", held while the listener
// is open) makes two agents starting at once safe: the second fails.
func Listen(path, group string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked)", ErrAgentRunning, path)
		}
		return nil, err
	}
	l, err := listenLocked(path, group)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &agentListener{UnixListener: l, path: path, lock: lock}, nil
}

func listenLocked(path, group string) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket; not replacing it", path)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := dialAgent(ctx, path)
		cancel()
		if err == nil {
			conn.Close()
			return nil, fmt.Errorf("%w (it answers on %s)", ErrAgentRunning, path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	// Bind under a temporary name and rename once the mode is set, so the
	// socket is never reachable with the umask's mode.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	err = os.Chmod(tmp, socketMode(tmp, group))
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	return l, nil
}

// socketMode gives the socket to group and answers 0660, or 0600 when
// the group does not exist or cannot be given.
func socketMode(path, group string) fs.FileMode {
	if group == "" {
		return 0o600
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0o600
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil || os.Lchown(path, -1, gid) != nil {
		return 0o600
	}
	return 0o660
}

// agentListener removes its socket and releases the lock on Close.
type agentListener struct {
	*net.UnixListener
	path string
	lock *os.File
}

func (l *agentListener) Close() error {
	err := l.UnixListener.Close()
	os.Remove(l.path)
	l.lock.Close()
	return err
}

func dialAgent(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
