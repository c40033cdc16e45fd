package licensecore

import "time"

// Retry timing of a failed refresh. A refresh that failed on the way (a
// timeout, a reset, an answer cut short) may have been answered by the
// authority, which spent the old refresh token; it gives the same answer
// again only to the previous token from the same key and only for
// AnswerGrace. So while that window may still be open the refresher asks
// again every RetryFast; after it, it backs off exponentially from
// RetryMin to RetryMax. Zero fields take the defaults.
type Retry struct {
	Fast, Min, Max time.Duration
	// AnswerGrace is the authority's window for a lost answer (10 min).
	AnswerGrace time.Duration
}

// Defaults of Retry.
const (
	DefaultRetryFast   = 20 * time.Second
	DefaultRetryMin    = 30 * time.Second
	DefaultRetryMax    = 30 * time.Minute
	DefaultAnswerGrace = 10 * time.Minute
)

// Next is the wait before the next attempt, given the previous wait (0 on
// the first failure) and how long the refresh has been failing. A ±20 %
// jitter keeps a store full of back-office PCs from retrying in lockstep.
func (r Retry) Next(prev, failingFor time.Duration) time.Duration {
	fast, lo, hi, grace := or(r.Fast, DefaultRetryFast), or(r.Min, DefaultRetryMin), or(r.Max, DefaultRetryMax), or(r.AnswerGrace, DefaultAnswerGrace)
	if left := grace - failingFor; left > 0 {
		// Several tries inside what is left of the window, the last one
		// well before it closes.
		return jitter(max(min(fast, left/3), time.Second))
	}
	d := lo
	if prev > 0 {
		d = min(prev*2, hi)
	}
	return jitter(d)
}

func or(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
