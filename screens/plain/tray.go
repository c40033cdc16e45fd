package plain

import (
	"time"

	"licensedesk/assets"
	"licensedesk/licensecore"
)

// TrayState selects the tray icon.
type TrayState int

// Tray icon states, from no license to all fine.
const (
	TrayUnlicensed TrayState = iota
	TrayOK
	TrayWarning
	TrayExpired
)

func (s TrayState) String() string {
	return [...]string{"unlicensed", "ok", "warning", "expired"}[s]
}

// IconPNG returns the tray icon for the state, a PNG image.
func (s TrayState) IconPNG() []byte { return assets.TrayIcon(s.String()) }

// TrayStatus returns the one-line status shown at the top of the tray menu
// and the icon state. It leads with the worst condition, like the details
// screen. Times left are measured from now rather than from st.At, so a
// status evaluated a while ago still reads correctly, and a token or
// renewal date that has passed since counts as passed.
func TrayStatus(st licensecore.Status, now time.Time) (line string, state TrayState) {
	if st.State == licensecore.Unlicensed || st.License == nil {
		return "Not licensed", TrayUnlicensed
	}
	tokenLeft := st.TokenLeft
	if !st.License.TokenExpiry.IsZero() {
		tokenLeft = st.License.TokenExpiry.Sub(now)
		if tokenLeft <= 0 {
			st.Token = licensecore.TokenExpired
		}
	}
	renewalLeft := st.RenewalLeft
	if st.HasRenewalDate() {
		renewalLeft = st.License.RenewalDate.Sub(now)
		if renewalLeft <= 0 {
			st.State = licensecore.ExpiredRequiresRenewal
		}
	}
	c := st.Condition()
	state = [...]TrayState{TrayOK, TrayWarning, TrayExpired}[c.Severity()]
	offset := ClockOffset(st)
	switch {
	case c == licensecore.CondClockError && offset != "":
		return offset, state
	case c != licensecore.CondOK:
		return conditionLine(st, c, tokenLeft, renewalLeft), state
	case offset != "":
		return offset, state
	case st.Token == licensecore.TokenNone:
		return "Licensed", state
	}
	return "Licensed — token expires " + Relative(tokenLeft), state
}

// TrayTooltip is the text shown when the pointer rests on the tray icon.
func TrayTooltip(st licensecore.Status, now time.Time) string {
	line, _ := TrayStatus(st, now)
	return "License Desk: " + line
}

// TrayAction is what a tray menu item does; the tray process owns the
// doing.
type TrayAction int

// Tray menu actions.
const (
	TrayNoAction TrayAction = iota // the status line: shown, not clickable
	TrayOpen
	TrayRefresh
	TrayQuit
)

// TrayItem is one line of the tray menu; an empty Label is a separator.
type TrayItem struct {
	Label    string
	Action   TrayAction
	Disabled bool
}

// TrayMenu is the tray menu for st: the status line, open, refresh (not
// without a license: there is no token to refresh), quit.
func TrayMenu(st licensecore.Status, now time.Time) []TrayItem {
	line, _ := TrayStatus(st, now)
	return []TrayItem{
		{Label: line, Disabled: true},
		{},
		{Label: "Open License Desk", Action: TrayOpen},
		{Label: "Refresh tokens now", Action: TrayRefresh, Disabled: st.State == licensecore.Unlicensed || st.License == nil},
		{},
		{Label: "Quit", Action: TrayQuit},
	}
}

// TrayAgentDown is the tray's status line while no agent answers.
const TrayAgentDown = "License Desk agent not running"
