//go:build windows

package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/Microsoft/go-winio"
)

// On Windows the agent listens on a named pipe. A path that is not a pipe
// name already (the data directory's agent.sock) names the pipe
// \\.\pipe\LicenseDesk-<hash of the path>, so one data directory has one
// pipe, as it has one socket on Unix.

// PipeName is the named pipe that stands for path (the app's
// single-instance endpoints use it too).
func PipeName(path string) string {
	if strings.HasPrefix(path, `\\.\pipe\`) {
		return path
	}
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(path))))
	return `\\.\pipe\LicenseDesk-` + hex.EncodeToString(sum[:8])
}

// Pipe ACLs (SDDL): the owner and SYSTEM always; with a group (the system
// service), the administrators and the interactive users too — the POS
// server's account on a back-office PC — since Windows has no licensedesk
// group by default.
const (
	pipeOwnerOnly = "D:P(A;;GA;;;OW)(A;;GA;;;SY)"
	pipeShared    = "D:P(A;;GA;;;OW)(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)"
)

// Listen opens the agent's named pipe. Another agent holding it is
// ErrAgentRunning (a pipe name has one server).
func Listen(path, group string) (net.Listener, error) {
	name := PipeName(path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if c, err := winio.DialPipeContext(ctx, name); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w (%s)", ErrAgentRunning, name)
	}
	sddl := pipeOwnerOnly
	if group != "" {
		sddl = pipeShared
	}
	l, err := winio.ListenPipe(name, &winio.PipeConfig{SecurityDescriptor: sddl, InputBufferSize: 64 << 10, OutputBufferSize: 64 << 10})
	if err != nil {
		if errors.Is(err, winio.ErrPipeListenerClosed) || strings.Contains(err.Error(), "Access is denied") {
			return nil, fmt.Errorf("%w (%s): %v", ErrAgentRunning, name, err)
		}
		return nil, err
	}
	return &pipeListener{Listener: l, shared: group != ""}, nil
}

// pipeListener marks its connections with the pipe's kind: on a pipe only
// the owner and SYSTEM may open, every peer is the owner.
type pipeListener struct {
	net.Listener
	shared bool
}

type pipeConn struct {
	net.Conn
	shared bool
}

func (l *pipeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &pipeConn{Conn: c, shared: l.shared}, nil
}

func dialAgent(ctx context.Context, path string) (net.Conn, error) {
	return winio.DialPipeContext(ctx, PipeName(path))
}

// connIsOwner: the pipe's ACL decides who may connect. A per-user pipe
// admits only the owner and SYSTEM, so its peers may stop the agent; a
// shared pipe admits interactive users too, so stopping the service is
// left to the service manager.
func connIsOwner(c net.Conn) bool {
	pc, ok := c.(*pipeConn)
	return ok && !pc.shared
}
