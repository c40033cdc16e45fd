//go:build windows

package localapi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// A pipe listener of our own rather than winio.ListenPipe: go-winio holds
// the pipe's first instance open without read or write access, which on
// Windows keeps clients off it, but wine's pipe server lets a client
// connect to that instance, which nobody accepts on; the first client then
// waits forever. Here every instance is one we wait on with
// ConnectNamedPipe, which both accept. A connected instance's reads and
// writes go through go-winio (completion port, deadlines).

// pipeBufferSize is each instance's in and out buffer.
const pipeBufferSize = 64 << 10

// pipeListener accepts on a named pipe. One instance (next) is always
// open and listening, so the name stays ours and a client never finds
// no instance.
type pipeListener struct {
	name   string
	sa     *windows.SecurityAttributes
	shared bool // see connIsOwner

	// acceptMu: one ConnectNamedPipe on next at a time; Close takes it
	// to know no Accept still waits on next before closing it.
	acceptMu sync.Mutex
	mu       sync.Mutex // guards next and closed
	next     windows.Handle
	closed   bool
}

// listenPipe creates the pipe name with the ACL sddl. A pipe of that name
// that exists already is ErrAgentRunning.
func listenPipe(name, sddl string, shared bool) (*pipeListener, error) {
	// FILE_FLAG_FIRST_PIPE_INSTANCE refuses an existing name on Windows;
	// wine 8 ignores it, so ask first whether the name exists (without
	// connecting, which would take a connection from its server).
	if err := pipeExists(name); err != nil {
		return nil, err
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, fmt.Errorf("pipe ACL %q: %w", sddl, err)
	}
	l := &pipeListener{name: name, shared: shared,
		sa: &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}}
	l.next, err = l.instance(true)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
		return nil, fmt.Errorf("%w (%s): %v", ErrAgentRunning, name, err)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// pipeExists is ErrAgentRunning when a pipe named name exists: then
// WaitNamedPipe finds an instance free or times out waiting for one,
// rather than not finding the name.
func pipeExists(name string) error {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return err
	}
	wait := windows.NewLazySystemDLL("kernel32.dll").NewProc("WaitNamedPipeW")
	if r, _, err := wait.Call(uintptr(unsafe.Pointer(n)), 1); r == 0 && errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return nil
	}
	return fmt.Errorf("%w (%s)", ErrAgentRunning, name)
}

// instance opens one more instance of the pipe; the first one fails if
// the name exists.
func (l *pipeListener) instance(first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(l.name)
	if err != nil {
		return windows.InvalidHandle, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	h, err := windows.CreateNamedPipe(name, flags,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		windows.PIPE_UNLIMITED_INSTANCES, pipeBufferSize, pipeBufferSize, 0, l.sa)
	if err != nil {
		return windows.InvalidHandle, &os.PathError{Op: "CreateNamedPipe", Path: l.name, Err: err}
	}
	return h, nil
}

// Accept waits for a client on the listening instance, opens the next
// one, and returns the connected one.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.acceptMu.Lock()
	defer l.acceptMu.Unlock()
	for {
		h, err := l.connect()
		if err != nil {
			return nil, err
		}
		if h == windows.InvalidHandle {
			continue // a client came and went
		}
		f, err := winio.NewOpenFile(h)
		if err != nil {
			windows.CloseHandle(h)
			return nil, err
		}
		pf, ok := f.(pipeFile)
		if !ok {
			f.Close()
			return nil, errors.New("go-winio's file has no deadlines")
		}
		return &pipeConn{pipeFile: pf, name: l.name, shared: l.shared}, nil
	}
}

// connect waits for a client on next and replaces it with a new instance.
// It returns InvalidHandle (and no error) when the client left before it
// was accepted; the instance then waits for the next one.
func (l *pipeListener) connect() (windows.Handle, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return windows.InvalidHandle, err
	}
	defer windows.CloseHandle(ev)
	o := &windows.Overlapped{HEvent: ev}

	// ConnectNamedPipe starts under mu so that Close, which cancels it,
	// cannot come between reading next and starting to wait on it.
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return windows.InvalidHandle, net.ErrClosed
	}
	h := l.next
	err = windows.ConnectNamedPipe(h, o)
	l.mu.Unlock()
	if err == windows.ERROR_IO_PENDING {
		var n uint32
		err = windows.GetOverlappedResult(h, o, &n, true)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return windows.InvalidHandle, net.ErrClosed
	case err == windows.ERROR_NO_DATA:
		return windows.InvalidHandle, windows.DisconnectNamedPipe(h)
	case err != nil && err != windows.ERROR_PIPE_CONNECTED:
		return windows.InvalidHandle, &os.PathError{Op: "ConnectNamedPipe", Path: l.name, Err: err}
	}
	next, err := l.instance(false)
	if err != nil {
		// h stays the listening instance; its client is let go.
		windows.DisconnectNamedPipe(h)
		return windows.InvalidHandle, err
	}
	l.next = next
	return h, nil
}

// Close stops a waiting Accept and closes the listening instance; the
// name ends once the accepted connections are closed too.
func (l *pipeListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	windows.CancelIoEx(l.next, nil)
	l.mu.Unlock()
	l.acceptMu.Lock()
	defer l.acceptMu.Unlock()
	return windows.CloseHandle(l.next)
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.name) }

// pipeFile is what go-winio's file offers beyond io.ReadWriteCloser.
type pipeFile interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// pipeConn is an accepted client, marked with the pipe's kind.
type pipeConn struct {
	pipeFile
	name   string
	shared bool
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.name) }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.name) }

func (c *pipeConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }
