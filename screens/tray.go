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
// and the icon state. Times left are measured from now rather than from
// st.At so a status evaluated a while ago still reads correctly.
func TrayStatus(st licensecore.Status, now time.Time) (line string, state TrayState) {
	if st.State == licensecore.Unlicensed || st.License == nil {
		return "Not licensed", TrayUnlicensed
	}
	tokenLeft := st.TokenLeft
	if !st.License.TokenExpiry.IsZero() {
		tokenLeft = st.License.TokenExpiry.Sub(now)
	}
	renewalLeft := st.RenewalLeft
	if st.HasRenewalDate() {
		renewalLeft = st.License.RenewalDate.Sub(now)
	}
	state = [...]TrayState{TrayOK, TrayWarning, TrayExpired}[st.Severity()]
	switch {
	case st.State == licensecore.ExpiredRequiresRenewal:
		return "License expired — remove & re-acquire", state
	case st.Token == licensecore.TokenExpired:
		return "Token expired — connect to the internet", state
	case st.ClockError && ClockOffset(st) != "":
		return ClockOffset(st), state
	case st.ClockError:
		return "Clock error — correct the date and time", state
	case st.OfflineExpiring:
		return "License expires in " + plural(st.OfflineDaysLeft, "day") + " — licensing server unavailable", state
	case st.State == licensecore.RequiresRenewal:
		return "Requires Renewal — renew within " + durationWords(renewalLeft), state
	case ClockOffset(st) != "":
		return ClockOffset(st), state
	case st.Token == licensecore.TokenNone:
		return "Licensed", state
	default:
		return "Licensed — token expires " + relative(tokenLeft), state
	}
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
	quit := fyne.NewMenuItem("Quit", act.Quit)
	// IsQuit stops Fyne from appending its own Quit item, which would skip
	// the app's orderly shutdown.
	quit.IsQuit = true
	return fyne.NewMenu("License Desk",
		status,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Open License Desk", act.Open),
		fyne.NewMenuItem("Refresh tokens now", act.Refresh),
		fyne.NewMenuItemSeparator(),
		quit,
	)
}
