package authority

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A paced window admits its burst at once and the rest one step apart,
// never more than Max in the window; a success gives its place back.
func TestPacedLimiter(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	l := newPacedLimiter(RateLimit{Max: 60, Window: time.Minute}, 5)
	admitted := func(at time.Time, tries int) (n int, wait time.Duration) {
		for range tries {
			ok, w := l.reserve("", at)
			if ok {
				n++
			} else {
				wait = w
			}
		}
		return n, wait
	}
	if n, wait := admitted(t0, 40); n != 5 || wait != time.Second {
		t.Fatalf("a flood at once: %d admitted (want the burst, 5), next in %v (want 1s)", n, wait)
	}
	if n, _ := admitted(t0.Add(999*time.Millisecond), 10); n != 0 {
		t.Fatalf("%d admitted before the first step", n)
	}
	if n, _ := admitted(t0.Add(time.Second), 10); n != 1 {
		t.Fatalf("%d admitted at the first step, want 1", n)
	}
	l.release("")
	if n, _ := admitted(t0.Add(time.Second), 10); n != 1 {
		t.Fatalf("%d admitted after a success gave its place back, want 1", n)
	}
	// Over the whole window, never more than Max.
	total := 6
	for at := t0.Add(1100 * time.Millisecond); at.Before(t0.Add(time.Minute)); at = at.Add(100 * time.Millisecond) {
		n, _ := admitted(at, 3)
		total += n
	}
	if total != 60 {
		t.Errorf("%d admitted in the window, want exactly Max (60)", total)
	}
	// An unpaced limiter admits the whole window at once, as before.
	u := newFailureLimiter(RateLimit{Max: 60, Window: time.Minute})
	n := 0
	for range 100 {
		if ok, _ := u.reserve("", t0); ok {
			n++
		}
	}
	if n != 60 {
		t.Errorf("unpaced: %d admitted at once, want 60", n)
	}
}

// TestHashPace: password checks that arrive together start hashPace apart,
// so a burst of sign-ins the limits admit never holds a core for longer
// than one hash at a time. Without the pace five cheap checks take a few
// milliseconds.
func TestHashPace(t *testing.T) {
	s, err := New(Options{DataDir: filepath.Join(t.TempDir(), "data"), Issuer: "http://127.0.0.1:1", Logger: zerolog.Nop(),
		Argon2: Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 5
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := s.authenticate(fmt.Sprintf("nobody-%d", i), "wrong"); ok {
				t.Error("an unknown user signed in")
			}
		}()
	}
	wg.Wait()
	if took := time.Since(start); took < (n-1)*hashPace {
		t.Fatalf("%d password checks at once took %v; paced, they take at least %v", n, took, (n-1)*hashPace)
	}
}
