package licensecore

import (
	"errors"
	"strconv"
	"sync"
	"time"
)

// TrustedClock guards against a system clock set backwards. It keeps a
// high-water mark of time — the latest local time it has seen and the iat
// of every verified token — in the store. Its Now never goes below that
// mark, so rolling the clock back cannot revive an expired token, and
// Rollback reports when the system clock is more than the tolerance behind
// it (the "clock error" status).
//
// The authority's signed time corrects it (Correct): the mark follows the
// authority's clock, down as well as up, and the system clock is read with
// the offset to the authority's clock until the process ends. So a PC
// clock that is off, or was ahead and set right, recovers on the next
// contact instead of locking the license out.
type TrustedClock struct {
	store     *Store
	sys       func() time.Time
	tolerance time.Duration

	mu        sync.Mutex
	high      time.Time
	persisted time.Time
	observed  bool          // an Observe raised the mark since the last write
	skew      time.Duration // the authority's clock − the system clock
}

// persistStep: the in-memory mark is written to the store when it has
// advanced this far, so Now stays cheap and a crash loses at most this much.
const persistStep = time.Minute

// NewTrustedClock loads the mark from the store. sys defaults to time.Now.
func NewTrustedClock(store *Store, sys func() time.Time, tolerance time.Duration) (*TrustedClock, error) {
	if sys == nil {
		sys = time.Now
	}
	c := &TrustedClock{store: store, sys: sys, tolerance: tolerance}
	raw, err := store.get(keyClock)
	switch {
	case err == nil:
		ns, perr := strconv.ParseInt(string(raw), 10, 64)
		if perr != nil {
			return nil, ErrStoreCorrupt
		}
		c.high = time.Unix(0, ns).UTC()
		c.persisted = c.high
	case !errors.Is(err, ErrNotStored):
		return nil, err
	}
	return c, nil
}

// Now is the trusted time: the system time, or the high-water mark when the
// system clock is behind it.
func (c *TrustedClock) Now() time.Time {
	sys := c.sys()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := sys.Add(c.skew)
	if now.After(c.high) {
		c.high = now
		return now
	}
	return c.high
}

// Observe raises the mark to t (a verified token's iat) and saves it.
func (c *TrustedClock) Observe(t time.Time) error {
	c.mu.Lock()
	if t.After(c.high) {
		c.high = t
		c.observed = true
	}
	c.mu.Unlock()
	return c.Save()
}

// Save writes the mark if it advanced since the last write by persistStep
// or more, or if an Observe raised it.
func (c *TrustedClock) Save() error {
	c.Now()
	c.mu.Lock()
	high, due := c.high, c.high.Sub(c.persisted) >= persistStep || c.persisted.IsZero() || c.observed
	c.mu.Unlock()
	if !due {
		return nil
	}
	if err := c.store.put(keyClock, []byte(strconv.FormatInt(high.UnixNano(), 10))); err != nil {
		return err
	}
	c.mu.Lock()
	if high.After(c.persisted) {
		c.persisted = high
	}
	if !c.high.After(high) {
		c.observed = false
	}
	c.mu.Unlock()
	return nil
}

// Rollback reports whether the system clock (with the authority's offset,
// once Correct learnt it) is more than the tolerance behind the mark, and
// by how much it is behind.
func (c *TrustedClock) Rollback() (bool, time.Duration) {
	now := c.sys()
	c.mu.Lock()
	behind := c.high.Sub(now.Add(c.skew))
	c.mu.Unlock()
	return behind > c.tolerance, behind
}

// HighWater returns the current mark.
func (c *TrustedClock) HighWater() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.high
}

// Correct sets the mark to server, the authority's time as a signed,
// fresh answer showed it, lowering it when the mark ran ahead (a PC clock
// that was ahead and was set right), and from then on reads the system
// clock with the offset to the authority's. The caller vouches for server
// (see Manager.apply); the mark is saved at once.
func (c *TrustedClock) Correct(server time.Time) error {
	sys := c.sys()
	c.mu.Lock()
	c.skew = server.Sub(sys)
	c.high, c.observed = server, false
	c.mu.Unlock()
	if err := c.store.put(keyClock, []byte(strconv.FormatInt(server.UnixNano(), 10))); err != nil {
		return err
	}
	c.mu.Lock()
	c.persisted = server
	c.mu.Unlock()
	return nil
}
