package authority

import (
	"sync"
	"time"
)

// failureLimiter counts failures per key in a fixed window that starts at the
// first failure; a key with Max failures is blocked until its window ends.
// Only failures count, so a person who types the right code is never slowed.
type failureLimiter struct {
	limit RateLimit
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

// blocked reports whether key has used up its failures, and for how long.
func (l *failureLimiter) blocked(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.m[key]
	if !ok {
		return false, 0
	}
	end := w.start.Add(l.limit.Window)
	if !now.Before(end) {
		delete(l.m, key)
		return false, 0
	}
	return w.count >= l.limit.Max, end.Sub(now)
}

func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.m[key]
	if !ok || !now.Before(w.start.Add(l.limit.Window)) {
		w = failureWindow{start: now}
	}
	w.count++
	l.m[key] = w
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
