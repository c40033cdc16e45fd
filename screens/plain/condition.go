package plain

import (
	"time"

	"licensedesk/licensecore"
)

// Headline words the worst condition of st in a few words, with times
// measured from st.At: "Licensed", "Token expired — registers cannot
// authenticate", "Requires Renewal — renew within 12 days".
func Headline(st licensecore.Status) string {
	return conditionLine(st, st.Condition(), st.TokenLeft, st.RenewalLeft)
}

// conditionLine words c; the times left are passed in so the tray can
// measure them from its own now.
func conditionLine(st licensecore.Status, c licensecore.Condition, tokenLeft, renewalLeft time.Duration) string {
	switch c {
	case licensecore.CondUnlicensed:
		return "Not licensed"
	case licensecore.CondExpired:
		if st.License != nil && st.License.Offline && !st.OfflineGraceEnd.IsZero() && !st.At.Before(st.OfflineGraceEnd) {
			return "License expired — licensing server unavailable for " + Plural(st.OfflineDays, "day")
		}
		return "License expired — renew it, then remove & re-acquire"
	case licensecore.CondTokenExpired:
		return "Token expired — registers cannot authenticate"
	case licensecore.CondClockError:
		return "Clock error — correct this PC's date and time"
	case licensecore.CondTokenExpiring:
		return "Token expires " + Relative(tokenLeft) + " — connect to the internet"
	case licensecore.CondOfflineExpiring:
		return "License expires in " + Plural(st.OfflineDaysLeft, "day") + " — licensing server unavailable"
	case licensecore.CondRenewalDue:
		return "Requires Renewal — renew within " + durationWords(renewalLeft)
	}
	return "Licensed"
}

// Licensee names who and what the license is for, as the Authorization
// server's device list shows it: "Corner Shop Ltd · Back office PC
// (SRV-0042)"; "" without a license.
func Licensee(l *licensecore.License) string {
	if l == nil {
		return ""
	}
	device := l.ServerID
	if l.DeviceName != "" {
		device = l.DeviceName + " (" + l.ServerID + ")"
	}
	if l.Customer == "" {
		return device
	}
	return l.Customer + " · " + device
}

// NextUpdate is when st should be evaluated again so the screens change
// at the moment something they show changes: the next state boundary
// (Status.NextChange) or the next change of a "in 3 days" word, whichever
// comes first. Zero when nothing changes by itself. The app sets one
// timer for NextUpdate(st, p).Sub(st.At).
func NextUpdate(st licensecore.Status, p licensecore.Policy) time.Time {
	next := st.NextChange(p)
	if st.License == nil {
		return next
	}
	consider := func(left time.Duration) {
		t := st.At.Add(wordsChange(left))
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if !st.License.TokenExpiry.IsZero() {
		consider(st.TokenLeft)
	}
	if st.HasRenewalDate() {
		consider(st.RenewalLeft)
	}
	return next
}
