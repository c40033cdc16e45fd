//go:build unix

package localapi

import (
	"errors"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"testing"
)

func TestListenTwice(t *testing.T) {
	path := filepath.Join(socketDir(t), "agent.sock")
	l, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, ""); !errors.Is(err, ErrAgentRunning) {
		t.Fatalf("second Listen: %v, want ErrAgentRunning", err)
	}
	// A socket some other process answers on, without the lock, is not
	// replaced either.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("Close left the socket: %v", err)
	}
	other, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := Listen(path, ""); !errors.Is(err, ErrAgentRunning) {
		t.Fatalf("Listen over a live socket: %v, want ErrAgentRunning", err)
	}
}

func TestListenReclaimsStaleSocket(t *testing.T) {
	path := filepath.Join(socketDir(t), "agent.sock")
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close() // as a crash leaves it: the file, nobody answering
	l, err := Listen(path, "no-such-group-for-licensedesk")
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v), want 0600 without the group", fi.Mode(), err)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the new socket does not answer: %v", err)
	}
	conn.Close()
}

func TestListenGroupMode(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skip(err)
	}
	path := filepath.Join(socketDir(t), "agent.sock")
	l, err := Listen(path, g.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v (%v), want 0660 for group %s", fi.Mode(), err, g.Name)
	}
	if err := os.WriteFile(path+"x", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path+"x", ""); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
}
