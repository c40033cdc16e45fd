package authority

import (
	"sync"
	"time"
)

// failureLimiter counts failures per key in a fixed window that starts at the
// first failure; a key with Max failures is blocked until its window ends.
// Only failures count, so a person who types the right code is never slowed.
//
// A failure is reserved before the check it guards runs (a password hash,
// a code lookup) and given back when the check succeeds: so a burst of
// parallel attempts from one key gets at most Max checks, not as many as
// arrive before the first of them fails.
type failureLimiter struct {
	limit RateLimit
	// burst, when positive, paces a window's failures: burst at once, then
	// one more each Window/Max, still Max in all. The global login limit
	// is paced so that a flood's password hashes are spread over the
	// minute instead of taking a core for seconds as each window opens.
	burst int
	mu    sync.Mutex
	m     map[string]failureWindow
}

type failureWindow struct {
	start time.Time
	count int
}

func newFailureLimiter(l RateLimit) *failureLimiter {
	return &failureLimiter{limit: l, m: make(map[string]failureWindow)}
}

// newPacedLimiter is a failureLimiter whose windows admit burst failures at
// once and the rest evenly spread.
func newPacedLimiter(l RateLimit, burst int) *failureLimiter {
	f := newFailureLimiter(l)
	f.burst = max(1, min(burst, l.Max))
	return f
}

// reserve takes one failure of key's allowance, or reports how long key
// must wait when none is left.
func (l *failureLimiter) reserve(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.m[key]
	if !ok || !now.Before(w.start.Add(l.limit.Window)) {
		w = failureWindow{start: now}
	}
	if w.count >= l.limit.Max {
		return false, w.start.Add(l.limit.Window).Sub(now)
	}
	if l.burst > 0 {
		step := l.limit.Window / time.Duration(l.limit.Max)
		if paced := l.burst + int(now.Sub(w.start)/step); w.count >= paced {
			return false, w.start.Add(time.Duration(w.count-l.burst+1) * step).Sub(now)
		}
	}
	w.count++
	l.m[key] = w
	return true, 0
}

// release gives back a reservation the check did not need (it succeeded).
func (l *failureLimiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.m[key]; ok && w.count > 0 {
		w.count--
		l.m[key] = w
	}
}

// prune forgets windows that have ended.
func (l *failureLimiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, w := range l.m {
		if !now.Before(w.start.Add(l.limit.Window)) {
			delete(l.m, k)
		}
	}
}

type limitCheck struct {
	l   *failureLimiter
	key string
}

// reservation is one failure reserved on each of its limiters.
type reservation []limitCheck

// reserveAll reserves a failure on every check, or on none: when one is
// used up it gives the others back and reports that check's wait.
func reserveAll(now time.Time, checks ...limitCheck) (reservation, bool, time.Duration) {
	for i, c := range checks {
		if ok, wait := c.l.reserve(c.key, now); !ok {
			reservation(checks[:i]).release()
			return nil, false, wait
		}
	}
	return checks, true, 0
}

// release gives every reservation back: the check succeeded.
func (r reservation) release() {
	for _, c := range r {
		c.l.release(c.key)
	}
}

// liveLimiter bounds how many live things (device codes) a key holds at
// once. A thing counts from admit until its expiry; since every device code
// lives for the same time, each key's expiries form a queue in order and
// expired ones drop off its front.
type liveLimiter struct {
	max int
	mu  sync.Mutex
	m   map[string][]time.Time
}

func newLiveLimiter(max int) *liveLimiter {
	return &liveLimiter{max: max, m: make(map[string][]time.Time)}
}

// admit counts one more thing for key until exp, or reports how long until
// key's oldest live thing expires when key is at max.
func (l *liveLimiter) admit(key string, now, exp time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := dropExpired(l.m[key], now)
	if len(q) >= l.max {
		l.m[key] = q
		return false, q[0].Sub(now)
	}
	l.m[key] = append(q, exp)
	return true, 0
}

// undo forgets one thing of key that admit counted but that was not made.
func (l *liveLimiter) undo(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if q := l.m[key]; len(q) > 0 {
		l.m[key] = q[:len(q)-1]
	}
}

func (l *liveLimiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, q := range l.m {
		if q = dropExpired(q, now); len(q) == 0 {
			delete(l.m, k)
		} else {
			l.m[k] = q
		}
	}
}

func dropExpired(q []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(q) && !now.Before(q[i]) {
		i++
	}
	if i == len(q) {
		return nil
	}
	return q[i:]
}

// tokenBucket admits Burst requests at once and Rate per second after,
// per key; it answers how long until the next request would be admitted.
type tokenBucket struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	m     map[string]bucketState
}

type bucketState struct {
	tokens float64
	at     time.Time
}

func newTokenBucket(perSecond float64, burst int) *tokenBucket {
	return &tokenBucket{rate: perSecond, burst: float64(burst), m: make(map[string]bucketState)}
}

func (b *tokenBucket) take(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.m[key]
	if !ok {
		st = bucketState{tokens: b.burst, at: now}
	}
	st.tokens = min(b.burst, st.tokens+now.Sub(st.at).Seconds()*b.rate)
	st.at = now
	if st.tokens < 1 {
		b.m[key] = st
		return false, time.Duration((1 - st.tokens) / b.rate * float64(time.Second))
	}
	st.tokens--
	b.m[key] = st
	return true, 0
}

// prune forgets keys whose bucket has filled up again.
func (b *tokenBucket) prune(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, st := range b.m {
		if st.tokens+now.Sub(st.at).Seconds()*b.rate >= b.burst {
			delete(b.m, k)
		}
	}
}
