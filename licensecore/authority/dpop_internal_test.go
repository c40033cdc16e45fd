package authority

import (
	"errors"
	"testing"
	"time"
)

// TestReplayCache: an id is refused while its proof could still be
// accepted, and the cache stays within its bounds, refusing rather than
// forgetting when full; ids are forgotten by whole slots once they end.
func TestReplayCache(t *testing.T) {
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	until := now.Add(dpopSkew)
	later := until.Add(replaySlot) // the slot of until has ended
	c := newReplayCache(3, 2)
	steps := []struct {
		jkt, jti string
		at       time.Time
		want     error
	}{
		{"k1", "a", now, nil},
		{"k1", "a", now.Add(dpopSkew - time.Second), errReplayed},
		{"k2", "a", now, nil}, // ids are per key
		{"k1", "b", now, nil},
		{"k1", "c", now, errReplayFull},                       // k1 holds its two
		{"k3", "a", now, errReplayFull},                       // three in all
		{"k1", "a", until.Add(-time.Nanosecond), errReplayed}, // never forgotten early
		{"k1", "a", later, nil},                               // the old entries are pruned
		{"k3", "a", later, nil},
	}
	for i, s := range steps {
		err := c.add(s.jkt, s.jti, s.at.Add(dpopSkew), s.at)
		if !errors.Is(err, s.want) {
			t.Fatalf("step %d (%s/%s): %v, want %v", i, s.jkt, s.jti, err, s.want)
		}
		if c.n.Load() > c.max {
			t.Fatalf("step %d: %d entries, bound %d", i, c.n.Load(), c.max)
		}
	}
	c.prune(later.Add(2 * dpopSkew))
	keys, slots := 0, 0
	for i := range c.shards {
		keys, slots = keys+len(c.shards[i].perKey), slots+len(c.shards[i].slots)
	}
	if c.n.Load() != 0 || keys != 0 || slots != 0 {
		t.Fatalf("after the window: %d entries, %d keys, %d slots", c.n.Load(), keys, slots)
	}
}
