package screens

import (
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
)

// nextAction is the one thing the status line offers to do about the worst
// condition.
type nextAction int

const (
	actNone nextAction = iota
	actRefresh
	actOpenAuthority
	actRenew
	actClock
)

// actionLabels are the status line's button texts.
var actionLabels = map[nextAction]string{
	actRefresh:       "Refresh tokens now",
	actOpenAuthority: "Open Authorization server",
	actRenew:         "Renew…",
	actClock:         "Correct the clock…",
}

// conditionAction is what the status line offers for c.
func conditionAction(c licensecore.Condition) nextAction {
	switch c {
	case licensecore.CondRenewalDue:
		return actRenew
	case licensecore.CondClockError:
		return actClock
	case licensecore.CondExpired:
		return actOpenAuthority
	case licensecore.CondOK, licensecore.CondTokenExpiring, licensecore.CondTokenExpired, licensecore.CondOfflineExpiring:
		return actRefresh
	}
	return actNone
}

// severityImportance colors a condition: green, orange or red.
func severityImportance(c licensecore.Condition) widget.Importance {
	return [...]widget.Importance{widget.SuccessImportance, widget.WarningImportance, widget.DangerImportance}[c.Severity()]
}
