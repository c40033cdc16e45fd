package localapi

import (
	"context"
	"errors"
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
	go func() {
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
	l2, err := Listen(path, "")
	if err != nil {
		t.Fatalf("after the first agent ended: %v", err)
	}
	l2.Close()
}
