package licensecore

import (
	"slices"
	"time"
)

// Condition is one thing that can be true of a status, ordered by how
// badly it needs attention: a larger value is worse. Screens lead with the
// worst one (Status.Condition) so that, for example, an expired token is
// never hidden behind a renewal date that is still far away.
type Condition int

// Conditions, from fine to worst.
const (
	// CondOK: licensed, nothing to do.
	CondOK Condition = iota
	// CondRenewalDue: the renewal date is within the renewal window.
	CondRenewalDue
	// CondOfflineExpiring: a license refreshed offline nears the end of
	// its offline window.
	CondOfflineExpiring
	// CondTokenExpiring: the license token expires soon.
	CondTokenExpiring
	// CondClockError: the system clock is behind the trusted time, so no
	// expiry is extended until it is right again.
	CondClockError
	// CondTokenExpired: registers cannot authenticate.
	CondTokenExpired
	// CondExpired: past the renewal date, or the offline window has ended.
	CondExpired
	// CondUnlicensed: no license.
	CondUnlicensed
)

var conditionNames = [...]string{"ok", "renewal_due", "offline_expiring", "token_expiring", "clock_error",
	"token_expired", "expired", "unlicensed"}

// String is a stable identifier for logs and JSON, not a sentence.
func (c Condition) String() string {
	if c < 0 || int(c) >= len(conditionNames) {
		return "unknown"
	}
	return conditionNames[c]
}

// Severity groups conditions for icons and exit codes: 0 fine, 1 warning,
// 2 expired or unlicensed.
func (c Condition) Severity() int {
	switch {
	case c >= CondTokenExpired:
		return 2
	case c > CondOK:
		return 1
	}
	return 0
}

// Conditions lists every condition that holds, worst first; a healthy
// license gives [CondOK].
func (s Status) Conditions() []Condition {
	if s.State == Unlicensed {
		return []Condition{CondUnlicensed}
	}
	var cs []Condition
	add := func(on bool, c Condition) {
		if on {
			cs = append(cs, c)
		}
	}
	add(s.State == ExpiredRequiresRenewal, CondExpired)
	add(s.Token == TokenExpired, CondTokenExpired)
	add(s.ClockError, CondClockError)
	add(s.Token == TokenExpiringSoon, CondTokenExpiring)
	add(s.OfflineExpiring && s.State != ExpiredRequiresRenewal, CondOfflineExpiring)
	add(s.State == RequiresRenewal, CondRenewalDue)
	if len(cs) == 0 {
		return []Condition{CondOK}
	}
	slices.SortFunc(cs, func(a, b Condition) int { return int(b - a) })
	return cs
}

// Condition is the worst condition of the status: the one every summary
// (headline, tray line, icon) leads with.
func (s Status) Condition() Condition { return s.Conditions()[0] }

// NextChange is the first instant after s.At at which Evaluate under p
// would give a different State, Token state or offline facts (days left,
// days away, warning): the token's warning threshold and expiry, the
// renewal window and date, the offline warning, the offline window's end
// and its day boundaries. It is zero when nothing will change by itself
// (no license). Callers set one timer for next.Sub(s.At) instead of
// polling; the clock error and a new token change the status too, but they
// come with a new Status of their own.
func (s Status) NextChange(p Policy) time.Time {
	l := s.License
	if l == nil {
		return time.Time{}
	}
	var next time.Time
	consider := func(t time.Time) {
		if t.After(s.At) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if !l.TokenExpiry.IsZero() {
		// Expiring soon starts just after TokenExpiry-warn (left < warn).
		consider(l.TokenExpiry.Add(-tokenWarn(l, p)).Add(time.Nanosecond))
		consider(l.TokenExpiry)
	}
	if !l.RenewalDate.IsZero() {
		consider(l.RenewalDate.Add(-p.RenewalWindow))
		consider(l.RenewalDate)
	}
	if l.Offline && !l.OfflineSince.IsZero() {
		window, warn := p.offlineWindow()
		end := l.OfflineSince.Add(window)
		consider(end.Add(-warn))
		consider(end)
		// OfflineDaysLeft (rounded up) drops when a whole number of days
		// is left; OfflineDays (rounded down) grows each day, also after
		// the window has ended.
		if left := end.Sub(s.At); left > 0 {
			consider(end.Add(-(left - 1) / day * day))
		}
		if away := s.At.Sub(l.OfflineSince); away >= 0 {
			consider(l.OfflineSince.Add(away/day*day + day))
		}
	}
	return next
}
