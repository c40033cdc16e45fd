package licensecore

import (
	"fmt"
	"time"

	"licensedesk/licensecore/wire"
)

// State is the license status shown as "License Status".
type State int

// License states.
const (
	Unlicensed State = iota
	Licensed
	RequiresRenewal
	ExpiredRequiresRenewal
)

func (s State) String() string {
	switch s {
	case Licensed:
		return "Licensed"
	case RequiresRenewal:
		return "Requires Renewal"
	case ExpiredRequiresRenewal:
		return "Expired – Requires Renewal"
	default:
		return "Not licensed"
	}
}

// TokenState is the state of the current license token, separate from the
// license: an expired token means registers cannot authenticate until the
// server reaches the internet again, not that the license is gone.
type TokenState int

// Token states.
const (
	TokenNone TokenState = iota
	TokenOK
	TokenExpiringSoon
	TokenExpired
)

func (s TokenState) String() string {
	switch s {
	case TokenOK:
		return "valid"
	case TokenExpiringSoon:
		return "expiring soon"
	case TokenExpired:
		return "expired"
	default:
		return "none"
	}
}

// Policy holds every threshold of status evaluation, so none is a literal
// scattered through the code.
type Policy struct {
	// RenewalWindow: a license whose renewal date is closer than this
	// requires renewal.
	RenewalWindow time.Duration
	// TokenWarnBefore and TokenWarnFraction: a token is "expiring soon" when
	// less than TokenWarnBefore or less than TokenWarnFraction of its
	// lifetime is left, whichever threshold is the shorter. Taking the
	// shorter one matters for short-lived tokens: with 3-day tokens renewed
	// at half-life, a 48 h threshold alone would raise a warning on every
	// healthy refresh cycle.
	TokenWarnBefore   time.Duration
	TokenWarnFraction float64
	// ClockTolerance: how far the system clock may be behind the trusted
	// high-water mark before it counts as a clock error.
	ClockTolerance time.Duration
	// Leeway for exp/nbf checks of tokens (at most a minute).
	Leeway time.Duration
	// RefreshFraction: the background refresher renews at this fraction of
	// the token lifetime.
	RefreshFraction float64
	// RenewalNoticeDays: a notification is sent once when the renewal date
	// comes within each of these many days (0 entries are ignored).
	RenewalNoticeDays [3]int
	// OfflineWindow: a license refreshed offline (license file or response
	// code) stays valid this long after OfflineSince without contact with
	// the authority; OfflineWarn: the warning starts this long before the
	// end. Zero means the default (30 days, 7 days).
	OfflineWindow time.Duration
	OfflineWarn   time.Duration
}

// DefaultPolicy returns the documented defaults.
func DefaultPolicy() Policy {
	return Policy{
		RenewalWindow:     30 * 24 * time.Hour,
		TokenWarnBefore:   48 * time.Hour,
		TokenWarnFraction: 0.25,
		ClockTolerance:    10 * time.Minute,
		Leeway:            30 * time.Second,
		RefreshFraction:   0.5,
		RenewalNoticeDays: [3]int{30, 7, 1},
		OfflineWindow:     wire.OfflineWindow,
		OfflineWarn:       DefaultOfflineWarn,
	}
}

// Validate refuses policies that would make evaluation meaningless.
func (p Policy) Validate() error {
	switch {
	case p.RenewalWindow < 0:
		return fmt.Errorf("renewal window must not be negative")
	case p.TokenWarnBefore < 0:
		return fmt.Errorf("token warning time must not be negative")
	// Written as !(in range) so NaN, which fails every comparison, is refused.
	case !(p.TokenWarnFraction >= 0 && p.TokenWarnFraction < 1):
		return fmt.Errorf("token warning fraction must be between 0 and 1")
	case p.ClockTolerance < 0:
		return fmt.Errorf("clock tolerance must not be negative")
	case p.Leeway < 0 || p.Leeway > time.Minute:
		return fmt.Errorf("token leeway must be between 0 and 60 seconds")
	case !(p.RefreshFraction > 0 && p.RefreshFraction < 1):
		return fmt.Errorf("refresh fraction must be between 0 and 1")
	case p.OfflineWindow < 0 || p.OfflineWarn < 0:
		return fmt.Errorf("offline window and warning must not be negative")
	}
	return nil
}

// Status is the evaluated state of the stored license at one instant.
type Status struct {
	State State      `json:"-"`
	Token TokenState `json:"-"`
	// ClockError: the system clock is behind the trusted time; no expiry is
	// extended until it is right again.
	ClockError bool `json:"clock_error"`
	// ServerOffset is how far the authority's clock is ahead of this PC's
	// (negative: behind), as its last answer showed; ServerOffsetKnown is
	// false until an answer came in this session.
	ServerOffset      time.Duration `json:"-"`
	ServerOffsetKnown bool          `json:"-"`
	// License is nil when State is Unlicensed.
	License *License `json:"licence,omitempty"`
	// At is the trusted time the status was evaluated at.
	At time.Time `json:"at"`
	// TokenLeft is the time until the token expires (negative once expired).
	TokenLeft time.Duration `json:"-"`
	// RenewalLeft is the time until the renewal date; meaningful only when
	// the license has one.
	RenewalLeft time.Duration `json:"-"`
	// Offline window of a license refreshed offline (zero otherwise): when
	// it ends, how many days are left (rounded up; 0 once ended), how many
	// whole days the authority has been out of reach (rounded down), and
	// whether the warning period has begun.
	OfflineGraceEnd time.Time `json:"offline_grace_end,omitzero"`
	OfflineDaysLeft int       `json:"offline_days_left,omitempty"`
	OfflineDays     int       `json:"offline_days,omitempty"`
	OfflineExpiring bool      `json:"offline_expiring,omitempty"`
}

// HasRenewalDate reports whether the license has a renewal date.
func (s Status) HasRenewalDate() bool {
	return s.License != nil && !s.License.RenewalDate.IsZero()
}

// Evaluate computes the status of l at now under p. It is pure: the caller
// supplies the trusted time. A nil license is Unlicensed.
//
// Boundaries: at exactly the renewal date the license has expired; one
// second before it requires renewal. At exactly now+RenewalWindow before the
// date it requires renewal. The token is expired at exactly its exp.
func Evaluate(l *License, now time.Time, p Policy) Status {
	st := Status{At: now}
	if l == nil {
		return st
	}
	cp := *l
	st.License = &cp
	st.State = Licensed
	if !l.RenewalDate.IsZero() {
		st.RenewalLeft = l.RenewalDate.Sub(now)
		switch {
		case st.RenewalLeft <= 0:
			st.State = ExpiredRequiresRenewal
		case st.RenewalLeft <= p.RenewalWindow:
			st.State = RequiresRenewal
		}
	}
	st.Token = tokenState(l, now, p, &st.TokenLeft)
	evaluateOffline(&st, l, now, p)
	return st
}

func tokenState(l *License, now time.Time, p Policy, left *time.Duration) TokenState {
	if l.TokenExpiry.IsZero() {
		return TokenNone
	}
	*left = l.TokenExpiry.Sub(now)
	if *left <= 0 {
		return TokenExpired
	}
	if *left < tokenWarn(l, p) {
		return TokenExpiringSoon
	}
	return TokenOK
}

// tokenWarn is how long before its expiry the token of l counts as
// expiring soon under p.
func tokenWarn(l *License, p Policy) time.Duration {
	warn := p.TokenWarnBefore
	if life := l.TokenLifetime(); life > 0 {
		if frac := time.Duration(float64(life) * p.TokenWarnFraction); frac < warn {
			warn = frac
		}
	}
	return warn
}

// Severity orders statuses for icons and exit codes: 0 fine, 1 warning,
// 2 expired or unlicensed. It is the severity of the worst condition.
func (s Status) Severity() int { return s.Condition().Severity() }
