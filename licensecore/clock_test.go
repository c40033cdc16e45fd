package licensecore

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

const tolerance = 10 * time.Minute

// newTestClock builds a trusted clock over s whose system time is sys.
func newTestClock(tb testing.TB, s *Store, sys *fakeClock) *TrustedClock {
	tb.Helper()
	c, err := NewTrustedClock(s, sys.Now, tolerance)
	mustNil(tb, err)
	return c
}

func TestTrustedClockMark(t *testing.T) {
	sys := newFakeClock(t0)
	c := newTestClock(t, newTestStore(t), sys)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want the system time %v", got, t0)
	}
	steps := []struct {
		name     string
		sys      time.Time // system time from now on
		observe  time.Time // zero: no Observe
		wantMark time.Time
	}{
		{"system time moves on", t0.Add(time.Hour), time.Time{}, t0.Add(time.Hour)},
		{"token issued ahead of the local clock", t0.Add(time.Hour), t0.Add(3 * time.Hour), t0.Add(3 * time.Hour)},
		{"an older iat does not lower the mark", t0.Add(time.Hour), t0, t0.Add(3 * time.Hour)},
		{"clock set back a day", t0.Add(-24 * time.Hour), time.Time{}, t0.Add(3 * time.Hour)},
		{"system time passes the mark", t0.Add(4 * time.Hour), time.Time{}, t0.Add(4 * time.Hour)},
	}
	for _, st := range steps {
		sys.Set(st.sys)
		if !st.observe.IsZero() {
			mustNil(t, c.Observe(st.observe))
		}
		got := c.Now()
		if !got.Equal(st.wantMark) || !c.HighWater().Equal(st.wantMark) {
			t.Errorf("%s: Now = %v, HighWater = %v, want %v", st.name, got, c.HighWater(), st.wantMark)
		}
		if got.Before(st.sys) {
			t.Errorf("%s: Now %v is behind the system time %v", st.name, got, st.sys)
		}
	}
}

func TestTrustedClockRollback(t *testing.T) {
	sys := newFakeClock(t0)
	c := newTestClock(t, newTestStore(t), sys)
	c.Now() // the mark is t0
	cases := []struct {
		name       string
		sys        time.Time
		want       bool
		wantBehind time.Duration
	}{
		{"clock right", t0, false, 0},
		{"five minutes behind", t0.Add(-5 * time.Minute), false, 5 * time.Minute},
		{"exactly the tolerance behind", t0.Add(-tolerance), false, tolerance},
		{"one nanosecond past the tolerance", t0.Add(-tolerance - time.Nanosecond), true, tolerance + time.Nanosecond},
		{"a day behind", t0.Add(-24 * time.Hour), true, 24 * time.Hour},
		{"recovered: clock right again", t0.Add(time.Second), false, -time.Second},
	}
	for _, tc := range cases {
		sys.Set(tc.sys)
		got, behind := c.Rollback()
		if got != tc.want || behind != tc.wantBehind {
			t.Errorf("%s: Rollback = %v, %v; want %v, %v", tc.name, got, behind, tc.want, tc.wantBehind)
		}
		if now := c.Now(); now.Before(t0) {
			t.Errorf("%s: Now %v went below the mark %v", tc.name, now, t0)
		}
	}
}

func TestTrustedClockPersists(t *testing.T) {
	cases := []struct {
		name     string
		advance  func(c *TrustedClock, sys *fakeClock) error
		wantMark time.Time // after reopening with the system clock at t0
	}{
		{"Observe of a later iat", func(c *TrustedClock, _ *fakeClock) error {
			return c.Observe(t0.Add(2 * time.Hour))
		}, t0.Add(2 * time.Hour)},
		{"Observe just past the saved mark", func(c *TrustedClock, _ *fakeClock) error {
			return c.Observe(t0.Add(30 * time.Second))
		}, t0.Add(30 * time.Second)},
		{"Save after the system clock ran ahead", func(c *TrustedClock, sys *fakeClock) error {
			sys.Set(t0.Add(time.Hour))
			return c.Save()
		}, t0.Add(time.Hour)},
		{"Save skips a step shorter than persistStep", func(c *TrustedClock, sys *fakeClock) error {
			sys.Set(t0.Add(persistStep - time.Second))
			return c.Save()
		}, t0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sys := newFakeClock(t0)
			s := newTestStore(t)
			c := newTestClock(t, s, sys)
			mustNil(t, c.Save()) // first save writes t0
			mustNil(t, tc.advance(c, sys))

			s = reopen(t, s)
			sys.Set(t0)
			c = newTestClock(t, s, sys)
			if got := c.HighWater(); !got.Equal(tc.wantMark) {
				t.Errorf("mark after reopen = %v, want %v", got, tc.wantMark)
			}
			if got := c.Now(); !got.Equal(tc.wantMark) {
				t.Errorf("Now after reopen = %v, want %v", got, tc.wantMark)
			}
		})
	}
}

func TestTrustedClockEmptyAndCorruptStore(t *testing.T) {
	s := newTestStore(t)
	c := newTestClock(t, s, newFakeClock(t0))
	if !c.HighWater().IsZero() {
		t.Errorf("fresh store: mark %v, want zero", c.HighWater())
	}
	mustNil(t, s.put(keyClock, []byte("yesterday")))
	if _, err := NewTrustedClock(s, nil, tolerance); !errors.Is(err, ErrStoreCorrupt) {
		t.Errorf("unreadable mark: err = %v, want ErrStoreCorrupt", err)
	}
}

// A clock set back below a token's exp must not revive it, whether the
// token is in the verifier's cache or verified afresh.
func TestTrustedClockStopsRevivedTokens(t *testing.T) {
	sys := newFakeClock(t0)
	c := newTestClock(t, newTestStore(t), sys)
	exp := t0.Add(time.Hour)
	tok := keyA.sign(t, withClaims(func(cl *wire.Claims) { cl.ExpiresAt = jwt.NewNumericDate(exp) }))
	cached := newTestVerifier(t, c.Now, 0, keyA)
	_, err := cached.Verify(tok)
	mustNil(t, err)

	sys.Set(exp.Add(time.Hour)) // the token expires
	c.Now()
	sys.Set(t0) // somebody sets the clock back before exp

	if rolled, _ := c.Rollback(); !rolled {
		t.Error("Rollback = false after the clock went back two hours")
	}
	for name, v := range map[string]*Verifier{"cached": cached, "fresh": newTestVerifier(t, c.Now, 0, keyA)} {
		claims, err := v.Verify(tok)
		t.Run(name, func(t *testing.T) { assertTokenError(t, claims, err, ErrTokenExpired) })
	}
}

// TestLockoutClockCorrect: the authority's time lowers a mark that ran
// ahead, survives a restart, and the offset it showed is not a clock error.
func TestLockoutClockCorrect(t *testing.T) {
	s := newTestStore(t)
	sys := newFakeClock(t0.Add(20 * 24 * time.Hour)) // ahead while the app ran
	c := newTestClock(t, s, sys)
	c.Now()
	mustNil(t, c.Save())
	sys.Set(t0) // set right
	if rb, _ := c.Rollback(); !rb {
		t.Fatal("no clock error with the mark 20 days ahead")
	}
	mustNil(t, c.Correct(t0))
	if rb, behind := c.Rollback(); rb || c.HighWater() != t0 || !c.Now().Equal(t0) {
		t.Fatalf("after the correction: rollback %v (%v), mark %v", rb, behind, c.HighWater())
	}
	if again := newTestClock(t, s, sys); !again.HighWater().Equal(t0) {
		t.Fatalf("the corrected mark was not saved: %v", again.HighWater())
	}
	// A PC 3 h slow: the authority's time is the trusted time, no error.
	sys.Set(t0.Add(-3 * time.Hour))
	mustNil(t, c.Correct(t0))
	sys.Add(time.Hour)
	if rb, _ := c.Rollback(); rb || !c.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("PC 3 h slow: rollback %v, now %v", rb, c.Now())
	}
	// Set back again offline: a clock error, and the time stays.
	sys.Add(-2 * time.Hour)
	if rb, _ := c.Rollback(); !rb || !c.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("set back after the correction: rollback %v, now %v", rb, c.Now())
	}
}
