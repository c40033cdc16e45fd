package plain

import (
	"fmt"
	"strings"
	"time"
)

// Date layouts: day-month-year spelled out, so no reader confuses 03/04.
const (
	dateLayout     = "2 Jan 2006"
	dateTimeLayout = "2 Jan 2006 15:04"
)

// durationWords renders a duration as one coarse unit ("3 days",
// "20 hours", "5 minutes"). Days and hours are rounded to the nearest
// whole unit (a half rounds down), so a fresh 3-day token that has been
// valid for a few seconds still says "3 days"; minutes are whole minutes
// passed. Days start at 48 h and hours at 2 h so that "in 47 hours" is not
// shortened to a misleading "in 1 day".
func durationWords(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d >= 48*time.Hour:
		return Plural(roundHalfDown(d, 24*time.Hour), "day")
	case d >= 2*time.Hour:
		return Plural(roundHalfDown(d, time.Hour), "hour")
	case d >= time.Minute:
		return Plural(int(d/time.Minute), "minute")
	default:
		return "less than a minute"
	}
}

func roundHalfDown(d, unit time.Duration) int {
	return int((d + unit/2 - 1) / unit)
}

// wordSpan is the range [lo, hi] of durations that durationWords renders
// like a (a ≥ 0); an end may belong to the neighbouring words, which
// wordsChange checks.
func wordSpan(a time.Duration) (lo, hi time.Duration) {
	clamp := func(lo, hi, from, to time.Duration) (time.Duration, time.Duration) {
		return max(lo, from), min(hi, to)
	}
	switch {
	case a >= 48*time.Hour:
		n := time.Duration(roundHalfDown(a, 24*time.Hour))
		return clamp(n*24*time.Hour-12*time.Hour, n*24*time.Hour+12*time.Hour, 48*time.Hour, 1<<62)
	case a >= 2*time.Hour:
		n := time.Duration(roundHalfDown(a, time.Hour))
		return clamp(n*time.Hour-time.Hour/2, n*time.Hour+time.Hour/2, 2*time.Hour, 48*time.Hour)
	case a >= time.Minute:
		n := a / time.Minute
		return n * time.Minute, (n + 1) * time.Minute
	}
	return 0, time.Minute
}

// wordsChange is how long, as time passes and d (a time left; negative
// once past) shrinks, until relative(d) reads differently.
func wordsChange(d time.Duration) time.Duration {
	var wait time.Duration
	if d >= 0 {
		lo, _ := wordSpan(d)
		wait = d - lo
	} else {
		_, hi := wordSpan(-d)
		wait = hi + d
	}
	if Relative(d-wait) == Relative(d) {
		wait++ // the span's end belongs to d's words: one step further
	}
	return wait
}

// relative renders d as "in 2 days" (future) or "3 hours ago" (past).
func Relative(d time.Duration) string {
	if d < 0 {
		return durationWords(d) + " ago"
	}
	return "in " + durationWords(d)
}

func Plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// countdown renders the time left on a user code as m:ss, rounded up so the
// display reaches 0:00 only when the code has really expired.
func Countdown(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int((d + time.Second - 1) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func Date(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(dateLayout)
}

func DateTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(dateTimeLayout)
}

// shorten keeps error details readable in a label.
func shorten(s string, max int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
