//go:build windows

package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"path/filepath"
	"strings"

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
	sddl := pipeOwnerOnly
	if group != "" {
		sddl = pipeShared
	}
	return listenPipe(PipeName(path), sddl, group != "")
}

// ListenPipe opens the named pipe that stands for path, open to this user
// and SYSTEM only (the app's single-instance endpoints). A pipe of that
// name that exists already is ErrAgentRunning.
func ListenPipe(path string) (net.Listener, error) {
	return listenPipe(PipeName(path), pipeOwnerOnly, false)
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
