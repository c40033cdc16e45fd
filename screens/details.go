package screens

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/data/binding"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// refreshTimeout bounds a manual refresh so the button never stays busy
// forever on a half-open connection.
const refreshTimeout = time.Minute

const (
	msgTokenSoon    = "Connect this server to the internet to get fresh tokens."
	msgTokenExpired = "The license token has expired: registers cannot authenticate until this server gets a fresh token."
	msgClock        = "This PC's clock is behind the last trusted time. Correct the date and time, or, if they are right, press Refresh tokens now: the Authorization server's time corrects the trusted time. Until then License Desk does not extend any expiry."
	msgRenewalGone  = "The license has passed its renewal date. Renew it with your provider, then remove this license and acquire it again (remove & re-acquire)."
	msgRefreshOff   = "The authorization server cannot be reached right now. That is normal while this server is offline: License Desk keeps trying in the background."
)

// field is one "name: value" row of the details form, hidden when empty.
type field struct {
	key, value *widget.Label
}

func newField(key string) *field {
	v := widget.NewLabel("")
	v.Wrapping = fyne.TextWrapBreak
	return &field{key: widget.NewLabelWithStyle(key, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}), value: v}
}

func (f *field) set(v string) {
	f.value.SetText(v)
	if v == "" {
		f.key.Hide()
		f.value.Hide()
	} else {
		f.key.Show()
		f.value.Show()
	}
}

type details struct {
	ctx    context.Context
	svc    TokenRefresher
	status binding.Item[licensecore.Status]
	open   URLOpener
	loc    *time.Location
	async  func(func())

	state                                           *widget.Label
	serverID, renewal, features, hubName, hubURL    *field
	tokenExpiry, licenseID, licType, customer, capa *field
	lastVerify                                      *field

	renewalBanner, renewalGoneBanner, tokenSoonBanner, tokenExpiredBanner, clockBanner, offlineBanner *banner

	root       *fyne.Container
	refreshBtn *widget.Button
	busy       *progress
	msg        *widget.Label
}

// NewStatusBinding returns the status binding the details screen and the
// tray follow, holding st. Every Set notifies: a re-evaluated status always
// carries a new At, and the relative times shown depend on it.
func NewStatusBinding(st licensecore.Status) binding.Item[licensecore.Status] {
	b := binding.NewItem(func(a, b licensecore.Status) bool { return false })
	_ = b.Set(st)
	return b
}

// NewDetails returns the license details screen. It follows status, which
// any goroutine may Set; ctx bounds the manual refreshes it starts.
func NewDetails(ctx context.Context, svc TokenRefresher, status binding.Item[licensecore.Status], opener URLOpener) fyne.CanvasObject {
	return newDetails(ctx, svc, status, opener, time.Local).buildUI()
}

func newDetails(ctx context.Context, svc TokenRefresher, status binding.Item[licensecore.Status], opener URLOpener, loc *time.Location) *details {
	return &details{ctx: ctx, svc: svc, status: status, open: openerOrApp(opener), loc: loc, async: goAsync}
}

func (d *details) buildUI() fyne.CanvasObject {
	d.state = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.serverID = newField("Server ID")
	d.renewal = newField("License Renewal Date")
	d.features = newField("Features")
	d.hubName = newField("Hub Server Name")
	d.hubURL = newField("Hub Server URL")
	d.tokenExpiry = newField("Token Expiry")
	d.licenseID = newField("License ID")
	d.licType = newField("Type")
	d.customer = newField("Customer")
	d.capa = newField("Capacity")
	d.lastVerify = newField("Last verified")

	d.renewalBanner = newBanner(widget.WarningImportance)
	d.renewalGoneBanner = newBanner(widget.DangerImportance)
	d.tokenSoonBanner = newBanner(widget.WarningImportance)
	d.tokenExpiredBanner = newBanner(widget.DangerImportance)
	d.clockBanner = newBanner(widget.WarningImportance)
	d.offlineBanner = newBanner(widget.WarningImportance)

	form := container.New(layout.NewFormLayout(),
		widget.NewLabelWithStyle("License Status", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}), d.state)
	for _, f := range []*field{d.serverID, d.renewal, d.features, d.hubName, d.hubURL, d.tokenExpiry,
		d.licenseID, d.licType, d.customer, d.capa, d.lastVerify} {
		form.Add(f.key)
		form.Add(f.value)
	}

	d.refreshBtn = widget.NewButtonWithIcon("Refresh tokens now", theme.ViewRefreshIcon(), d.onRefresh)
	d.busy = newProgress("Refreshing…")
	d.msg = widget.NewLabel("")
	d.msg.Wrapping = fyne.TextWrapWord
	d.msg.Hide()
	open := widget.NewButtonWithIcon("Open Authorization server", theme.ComputerIcon(), d.onOpenAuthority)

	title := screenTitle("License details")

	d.root = container.NewVBox(
		title,
		d.renewalGoneBanner.box, d.tokenExpiredBanner.box, d.clockBanner.box,
		d.renewalBanner.box, d.tokenSoonBanner.box, d.offlineBanner.box,
		form,
		widget.NewSeparator(),
		container.NewHBox(d.refreshBtn, open, d.busy.box),
		d.msg,
	)
	d.status.AddListener(binding.NewDataListener(d.onStatusChanged))
	return d.root
}

func (d *details) onStatusChanged() {
	st, err := d.status.Get()
	if err != nil {
		return
	}
	d.show(st)
}

// show renders st. Relative times are measured from st.At, never from the
// wall clock, so the screen is a pure function of the status.
func (d *details) show(st licensecore.Status) {
	d.state.SetText(st.State.String())
	d.state.Importance = stateImportance(st.State)
	d.state.Refresh()

	l := st.License
	if l == nil {
		l = &licensecore.License{}
	}
	d.serverID.set(l.ServerID)
	d.renewal.set("")
	if st.HasRenewalDate() {
		d.renewal.set(formatDate(l.RenewalDate, d.loc) + " (" + relative(st.RenewalLeft) + ")")
	}
	d.features.set(strings.Join(l.Features, ", "))
	d.hubName.set(l.HubServerName)
	d.hubURL.set(l.HubServerURL)
	d.tokenExpiry.set("")
	if !l.TokenExpiry.IsZero() {
		d.tokenExpiry.set(formatDateTime(l.TokenExpiry, d.loc) + " (" + relative(st.TokenLeft) + ")")
	}
	d.licenseID.set(l.LicenseID)
	d.licType.set(inWords(typeWords, l.Type))
	d.customer.set(l.Customer)
	d.capa.set("")
	if l.Capacity > 0 {
		d.capa.set(strconv.Itoa(l.Capacity) + " devices")
	}
	d.lastVerify.set("")
	if !l.LastVerifyTime.IsZero() {
		d.lastVerify.set(formatDateTime(l.LastVerifyTime, d.loc) + " — " + inWords(verifyWords, l.LastVerifyResult))
	}

	d.renewalBanner.set("")
	if st.State == licensecore.RequiresRenewal {
		d.renewalBanner.set("The license requires renewal: renew it before " + formatDate(l.RenewalDate, d.loc) +
			" (" + relative(st.RenewalLeft) + ") to keep this server licensed.")
	}
	d.renewalGoneBanner.set(choose(st.State == licensecore.ExpiredRequiresRenewal, msgRenewalGone))
	d.tokenSoonBanner.set("")
	if st.Token == licensecore.TokenExpiringSoon {
		d.tokenSoonBanner.set("The license token expires " + relative(st.TokenLeft) + ". " + msgTokenSoon)
	}
	d.tokenExpiredBanner.set(choose(st.Token == licensecore.TokenExpired, msgTokenExpired))
	d.clockBanner.set(clockWords(st, d.loc))
	d.offlineBanner.set(OfflineWarning(st))
	d.root.Refresh() // banners and rows came or went: lay out again
}

// clockWords is the clock banner: the clock error with the trusted time,
// and how far this PC's clock is from the authority's when that is more
// than a minute.
func clockWords(st licensecore.Status, loc *time.Location) string {
	var parts []string
	if st.ClockError {
		parts = append(parts, msgClock, "Trusted time: "+formatDateTime(st.At, loc)+".")
	}
	if off := ClockOffset(st); off != "" {
		parts = append(parts, off+".")
	}
	return strings.Join(parts, " ")
}

func choose(cond bool, msg string) string {
	if cond {
		return msg
	}
	return ""
}

func stateImportance(s licensecore.State) widget.Importance {
	switch s {
	case licensecore.Licensed:
		return widget.SuccessImportance
	case licensecore.RequiresRenewal:
		return widget.WarningImportance
	default:
		return widget.DangerImportance
	}
}

var (
	typeWords = map[wire.LicenseType]string{
		wire.Perpetual: "Perpetual", wire.Subscription: "Subscription",
	}
	verifyWords = map[licensecore.VerifyResult]string{
		licensecore.VerifyNever: "not checked", licensecore.VerifyValid: "valid",
		licensecore.VerifyExpired: "expired", licensecore.VerifyRevoked: "revoked",
		licensecore.VerifyUnreachable: "server unreachable",
	}
)

// inWords looks a value up in a table of words, falling back to the raw
// value so a new value from a newer authority still shows.
func inWords[K ~string](words map[K]string, k K) string {
	if w, ok := words[k]; ok {
		return w
	}
	return string(k)
}

// onRefresh asks for fresh tokens in the background. Being offline is a
// normal condition for a POS server, so it is reported in place, calmly,
// never in a dialog.
func (d *details) onRefresh() {
	d.refreshBtn.Disable()
	d.busy.start()
	d.setMsg("", widget.MediumImportance)
	d.async(func() {
		ctx, cancel := context.WithTimeout(d.ctx, refreshTimeout)
		defer cancel()
		st, err := d.svc.RefreshNow(ctx)
		fyne.Do(func() { d.onRefreshed(st, err) })
	})
}

func (d *details) onRefreshed(st licensecore.Status, err error) {
	d.busy.stop()
	d.refreshBtn.Enable()
	switch {
	case err == nil:
		_ = d.status.Set(st) // shows the new token at once; the app's Set may follow
		msg := "Tokens refreshed."
		if st.License != nil && !st.License.TokenExpiry.IsZero() {
			msg += " The new token expires " + formatDateTime(st.License.TokenExpiry, d.loc) + " (" + relative(st.TokenLeft) + ")."
		}
		d.setMsg(msg, widget.SuccessImportance)
	case errors.Is(err, context.Canceled):
		d.setMsg("", widget.MediumImportance)
	case errors.Is(err, licensecore.ErrAuthorityDown) || errors.Is(err, context.DeadlineExceeded) || isNetworkError(err):
		d.setMsg(msgRefreshOff, widget.MediumImportance)
	default:
		d.setMsg(Explain(err), widget.DangerImportance)
	}
}

func (d *details) onOpenAuthority() {
	if msg := openAuthority(d.open, d.svc.AuthorityURL()); msg != "" {
		d.setMsg(msg, widget.DangerImportance)
	}
}

func (d *details) setMsg(msg string, imp widget.Importance) {
	d.msg.Importance = imp
	d.msg.SetText(msg)
	if msg == "" {
		d.msg.Hide()
	} else {
		d.msg.Show()
	}
	d.root.Refresh()
}
