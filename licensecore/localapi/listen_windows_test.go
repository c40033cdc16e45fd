package localapi

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestListenPipeTwice: one data directory has one agent pipe; a second
// agent is refused while the first listens, and may listen once it ends.
func TestListenPipeTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	// The name lives while any instance is open, accepted ones too: the
	// loop closes each before the next Accept, and ends on l.Close.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path, ""); !errors.Is(err, ErrAgentRunning) {
		t.Fatalf("a second listener: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialAgent(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	l.Close()
	<-done
	l2, err := Listen(path, "")
	if err != nil {
		t.Fatalf("after the first agent ended: %v", err)
	}
	l2.Close()
}

// TestPipeFirstClient: the first client to dial is the one Accept returns
// (wine lets clients onto an instance go-winio's listener never accepts
// on), and a read aborted by a deadline in the past, as net/http aborts
// its background read, leaves the connection usable.
func TestPipeFirstClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialAgent(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var s net.Conn
	select {
	case s = <-accepted:
		defer s.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the first client was never accepted")
	}

	aborted := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 8))
		aborted <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the read start
	if err := s.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := <-aborted; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("aborted read: %v, want a deadline error", err)
	}
	if err := s.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := io.ReadFull(s, buf[:4]); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(c, buf[:4]); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
}
