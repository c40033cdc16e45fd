package screens

import (
	"time"

	"fyne.io/fyne/v2"

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

// Icon returns the tray icon for the state.
func (s TrayState) Icon() fyne.Resource {
	return [...]fyne.Resource{assets.TrayUnlicensed, assets.TrayOK, assets.TrayWarning, assets.TrayExpired}[s]
}

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
	return "Licensed — token expires " + relative(tokenLeft), state
}

// TrayTooltip is the text shown when the pointer rests on the tray icon.
func TrayTooltip(st licensecore.Status, now time.Time) string {
	line, _ := TrayStatus(st, now)
	return "License Desk: " + line
}

// TrayActions are the tray menu's callbacks; the app owns what they do.
type TrayActions struct {
	Open    func()
	Refresh func()
	Quit    func()
}

// NewTrayMenu builds the tray menu for st. The app rebuilds it on every
// status change and passes it to desktop.App.SetSystemTrayMenu.
func NewTrayMenu(st licensecore.Status, now time.Time, act TrayActions) *fyne.Menu {
	line, _ := TrayStatus(st, now)
	status := fyne.NewMenuItem(line, nil)
	status.Disabled = true
	refresh := fyne.NewMenuItem("Refresh tokens now", act.Refresh)
	// Without a license there is no token to refresh.
	refresh.Disabled = st.State == licensecore.Unlicensed || st.License == nil
	quit := fyne.NewMenuItem("Quit", act.Quit)
	// IsQuit stops Fyne from appending its own Quit item, which would skip
	// the app's orderly shutdown.
	quit.IsQuit = true
	return fyne.NewMenu("License Desk",
		status,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Open License Desk", act.Open),
		refresh,
		fyne.NewMenuItemSeparator(),
		quit,
	)
}
