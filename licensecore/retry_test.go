package licensecore

import (
	"testing"
	"time"
)

// TestRetryNext: inside the authority's grace window for a lost answer the
// refresher asks again fast (several times before the window closes);
// after it, it backs off exponentially up to the cap, with jitter.
func TestRetryNext(t *testing.T) {
	r := Retry{Fast: 20 * time.Second, Min: time.Second, Max: 8 * time.Second, AnswerGrace: 10 * time.Minute}
	var waited time.Duration
	tries := 0
	for d := time.Duration(0); waited < r.AnswerGrace; tries++ {
		d = r.Next(d, waited)
		if d > 24*time.Second || d < 800*time.Millisecond {
			t.Fatalf("inside the window at %v: wait %v", waited, d)
		}
		waited += d
	}
	if tries < 20 {
		t.Fatalf("only %d tries inside the 10-minute window", tries)
	}
	d := time.Duration(0)
	for i := 0; i < 10; i++ {
		d = r.Next(d, r.AnswerGrace)
		if d < r.Min*8/10 || d > r.Max*12/10 {
			t.Fatalf("step %d: %v outside [%v, %v]", i, d, r.Min*8/10, r.Max*12/10)
		}
	}
	if d < r.Max*8/10 {
		t.Fatalf("back-off did not grow to the cap: %v", d)
	}
	if got := (Retry{}).Next(0, 0); got < 16*time.Second || got > 24*time.Second {
		t.Fatalf("default fast retry %v", got)
	}
}
