package screens

import (
	"context"
	"errors"
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
	"licensedesk/screens/plain"
)

// refreshTimeout bounds a manual refresh so the button never stays busy
// forever on a half-open connection.
const refreshTimeout = time.Minute

const (
	msgTokenSoon    = "Connect this server to the internet to get fresh tokens."
	msgTokenExpired = "The license token has expired: registers cannot authenticate until this server gets a fresh token. Connect it to the internet and press Refresh tokens now."
	msgClock        = "This PC's clock is behind the last trusted time. Correct the date and time, or, if they are right, press Refresh tokens now: the Authorization server's time corrects the trusted time. Until then License Desk does not extend any expiry."
	msgRenewalGone  = "The license has passed its renewal date. Renew it with your provider, then remove this license and acquire it again (remove & re-acquire)."
	msgRefreshOff   = "The authorization server cannot be reached right now. That is normal while this server is offline: License Desk keeps trying in the background."
)

// msgClockHelp is the guidance behind the status line's "Correct the
// clock…".
const msgClockHelp = "To correct the clock: open this PC's date and time settings, turn on setting the time automatically " +
	"(or enter the right date, time and time zone), then press Refresh tokens now. If the date and time are already right, " +
	"press Refresh tokens now anyway: the Authorization server's time then corrects the trusted time."

// Jargon explained beside the field it belongs to.
const (
	hintFeatures = "Optional modules this license turns on, by their code."
	hintHubURL   = "The address of the hub server this server's registers connect through."
	hintToken    = "The token lets registers check the license. License Desk renews it by itself while this server is online."
)

// field is one "name: value" row of the details form, hidden when empty,
// with an optional one-line explanation under the value.
type field struct {
	key, value *widget.Label
	hint       *widget.Label
	cell       fyne.CanvasObject
}

func newField(key string) *field {
	return newHintField(key, "")
}

func newHintField(key, hint string) *field {
	v := widget.NewLabel("")
	v.Wrapping = fyne.TextWrapBreak
	v.Selectable = true
	f := &field{key: widget.NewLabelWithStyle(key, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}), value: v, cell: v}
	if hint != "" {
		f.hint = widget.NewLabel(hint)
		f.hint.SizeName = theme.SizeNameCaptionText
		f.hint.Wrapping = fyne.TextWrapWord
		f.cell = container.New(layout.NewCustomPaddedVBoxLayout(0), v, f.hint)
	}
	return f
}

func (f *field) set(v string) {
	f.value.SetText(v)
	if v == "" {
		f.key.Hide()
		f.cell.Hide()
	} else {
		f.key.Show()
		f.cell.Show()
	}
}

type details struct {
	ctx    context.Context
	svc    TokenRefresher
	status binding.Item[licensecore.Status]
	open   URLOpener
	loc    *time.Location
	async  func(func())

	line                                                 *statusLine
	serverID, device, renewal, features, hubName, hubURL *field
	tokenExpiry, licenseID, licType, customer, capa      *field
	lastVerify                                           *field

	renewalBanner, renewalGoneBanner, tokenSoonBanner, tokenExpiredBanner, clockBanner, offlineBanner *banner

	root       *fyne.Container
	clockHelp  *widget.Label
	busy       *progress
	msg        *widget.Label
	refreshing bool
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
	d.line = newStatusLine(d.onAction)
	d.serverID = newField("Server ID")
	d.device = newField("Device name")
	d.renewal = newField("License Renewal Date")
	d.features = newHintField("Features", hintFeatures)
	d.hubName = newField("Hub Server Name")
	d.hubURL = newHintField("Hub Server URL", hintHubURL)
	d.tokenExpiry = newHintField("Token Expiry", hintToken)
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

	form := container.New(layout.NewFormLayout())
	for _, f := range []*field{d.customer, d.device, d.serverID, d.renewal, d.tokenExpiry, d.features, d.hubName, d.hubURL,
		d.licenseID, d.licType, d.capa, d.lastVerify} {
		form.Add(f.key)
		form.Add(f.cell)
	}

	d.clockHelp = wrapped(msgClockHelp)
	d.clockHelp.Hide()
	d.busy = newProgress("Refreshing…")
	d.msg = widget.NewLabel("")
	d.msg.Wrapping = fyne.TextWrapWord
	d.msg.Hide()

	d.root = container.NewVBox(
		d.line.box,
		d.clockHelp, d.busy.box, d.msg,
		d.renewalGoneBanner.box, d.tokenExpiredBanner.box, d.clockBanner.box,
		d.tokenSoonBanner.box, d.offlineBanner.box, d.renewalBanner.box,
		widget.NewSeparator(),
		form,
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
	worst := st.Condition()
	l := st.License
	if l == nil {
		l = &licensecore.License{}
	}
	d.line.set(worst, plain.Headline(st), plain.Licensee(st.License), d.conditionWords(st, worst))
	d.line.enable(!d.refreshing)
	if worst != licensecore.CondClockError {
		d.clockHelp.Hide()
	}

	d.serverID.set(l.ServerID)
	d.device.set(l.DeviceName)
	d.renewal.set("")
	if st.HasRenewalDate() {
		d.renewal.set(plain.Date(l.RenewalDate, d.loc) + " (" + plain.Relative(st.RenewalLeft) + ")")
	}
	d.features.set(strings.Join(l.Features, ", "))
	d.hubName.set(l.HubServerName)
	d.hubURL.set(l.HubServerURL)
	d.tokenExpiry.set("")
	if !l.TokenExpiry.IsZero() {
		d.tokenExpiry.set(plain.DateTime(l.TokenExpiry, d.loc) + " (" + plain.Relative(st.TokenLeft) + ")")
	}
	d.licenseID.set(l.LicenseID)
	d.licType.set(inWords(typeWords, l.Type))
	d.customer.set(l.Customer)
	d.capa.set("")
	if l.Capacity > 0 {
		d.capa.set(plain.Plural(l.Capacity, "device"))
	}
	d.lastVerify.set("")
	if !l.LastVerifyTime.IsZero() {
		d.lastVerify.set(plain.DateTime(l.LastVerifyTime, d.loc) + " — " + inWords(verifyWords, l.LastVerifyResult))
	}

	// The worst condition is said in the status line; the banners below
	// carry every other one.
	others := map[licensecore.Condition]bool{}
	for _, c := range st.Conditions()[1:] {
		others[c] = true
	}
	for c, b := range map[licensecore.Condition]*banner{
		licensecore.CondRenewalDue: d.renewalBanner, licensecore.CondExpired: d.renewalGoneBanner,
		licensecore.CondTokenExpiring: d.tokenSoonBanner, licensecore.CondTokenExpired: d.tokenExpiredBanner,
		licensecore.CondOfflineExpiring: d.offlineBanner,
	} {
		b.set("")
		if others[c] {
			b.set(d.conditionWords(st, c))
		}
	}
	clock := plain.ClockOffset(st)
	if clock != "" {
		clock += "."
	}
	switch {
	case worst == licensecore.CondClockError:
		clock = "" // the status line says it all
	case others[licensecore.CondClockError]:
		clock = clockWords(st, d.loc)
	}
	d.clockBanner.set(clock)
	d.root.Refresh() // banners and rows came or went: lay out again
}

// conditionWords is the sentence that explains c and what to do.
func (d *details) conditionWords(st licensecore.Status, c licensecore.Condition) string {
	switch c {
	case licensecore.CondRenewalDue:
		return "The license requires renewal: renew it with your provider before " + plain.Date(st.License.RenewalDate, d.loc) +
			" (" + plain.Relative(st.RenewalLeft) + ") to keep this server licensed."
	case licensecore.CondExpired:
		if w := plain.OfflineWarning(st); w != "" {
			return w + ". Connect this server to the internet, or import a new license file (Offline activation)."
		}
		return msgRenewalGone
	case licensecore.CondTokenExpiring:
		return "The license token expires " + plain.Relative(st.TokenLeft) + ". " + msgTokenSoon
	case licensecore.CondTokenExpired:
		return msgTokenExpired
	case licensecore.CondClockError:
		return clockWords(st, d.loc)
	case licensecore.CondOfflineExpiring:
		return plain.OfflineWarning(st) + "."
	case licensecore.CondUnlicensed:
		return "This server has no license yet."
	}
	return "Everything is in order. License Desk renews the token by itself while this server is online."
}

// clockWords is the clock banner: the clock error with the trusted time,
// and how far this PC's clock is from the authority's when that is more
// than a minute.
func clockWords(st licensecore.Status, loc *time.Location) string {
	var parts []string
	if st.ClockError {
		parts = append(parts, msgClock, "Trusted time: "+plain.DateTime(st.At, loc)+".")
	}
	if off := plain.ClockOffset(st); off != "" {
		parts = append(parts, off+".")
	}
	return strings.Join(parts, " ")
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

// onAction runs the status line's buttons.
func (d *details) onAction(a nextAction) {
	switch a {
	case actRefresh:
		d.onRefresh()
	case actOpenAuthority, actRenew:
		d.onOpenAuthority()
	case actClock:
		d.clockHelp.Show()
		d.root.Refresh()
	}
}

// onRefresh asks for fresh tokens in the background. Being offline is a
// normal condition for a POS server, so it is reported in place, calmly,
// never in a dialog.
func (d *details) onRefresh() {
	d.refreshing = true
	d.line.enable(false)
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
	d.refreshing = false
	d.busy.stop()
	d.line.enable(true)
	switch {
	case err == nil:
		_ = d.status.Set(st) // shows the new token at once; the app's Set may follow
		msg := "Tokens refreshed."
		if st.License != nil && !st.License.TokenExpiry.IsZero() {
			msg += " The new token expires " + plain.DateTime(st.License.TokenExpiry, d.loc) + " (" + plain.Relative(st.TokenLeft) + ")."
		}
		d.setMsg(msg, widget.SuccessImportance)
	case errors.Is(err, context.Canceled):
		d.setMsg("", widget.MediumImportance)
	case errors.Is(err, licensecore.ErrAuthorityDown) || errors.Is(err, context.DeadlineExceeded) || plain.IsNetworkError(err):
		d.setMsg(msgRefreshOff, widget.MediumImportance)
	default:
		d.setMsg(plain.Explain(err), widget.DangerImportance)
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
