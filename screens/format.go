package screens

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

// durationWords renders a duration as one coarse unit ("2 days",
// "20 hours", "5 minutes"). Days start at 48 h and hours at 2 h so that
// "in 47 hours" is not shortened to a misleading "in 1 day".
func durationWords(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d >= 48*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	default:
		return "less than a minute"
	}
}

// relative renders d as "in 2 days" (future) or "3 hours ago" (past).
func relative(d time.Duration) string {
	if d < 0 {
		return durationWords(d) + " ago"
	}
	return "in " + durationWords(d)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// countdown renders the time left on a user code as m:ss, rounded up so the
// display reaches 0:00 only when the code has really expired.
func countdown(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int((d + time.Second - 1) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func formatDate(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(dateLayout)
}

func formatDateTime(t time.Time, loc *time.Location) string {
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
