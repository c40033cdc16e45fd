package authority

import (
	"errors"
	"testing"
	"time"
)

// TestReplayCache: a jti is refused while its proof could still be
// accepted, and the cache stays within its bounds, refusing rather than
// forgetting when full.
func TestReplayCache(t *testing.T) {
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	until := now.Add(dpopSkew)
	c := newReplayCache(3, 2)
	steps := []struct {
		jkt, jti string
		at       time.Time
		want     error
	}{
		{"k1", "a", now, nil},
		{"k1", "a", now.Add(dpopSkew - time.Second), errReplayed},
		{"k2", "a", now, nil}, // jti are per key
		{"k1", "b", now, nil},
		{"k1", "c", now, errReplayFull}, // k1 holds its two
		{"k3", "a", now, errReplayFull}, // three in all
		{"k1", "a", until, nil},         // the old entries are pruned
		{"k3", "a", until, nil},
	}
	for i, s := range steps {
		err := c.add(s.jkt, s.jti, until.Add(s.at.Sub(now)), s.at)
		if !errors.Is(err, s.want) {
			t.Fatalf("step %d (%s/%s): %v, want %v", i, s.jkt, s.jti, err, s.want)
		}
		if c.n > c.max {
			t.Fatalf("step %d: %d entries, bound %d", i, c.n, c.max)
		}
	}
	c.prune(until.Add(2 * dpopSkew))
	if c.n != 0 || len(c.byKey) != 0 {
		t.Fatalf("after the window: %d entries, %d keys", c.n, len(c.byKey))
	}
}
