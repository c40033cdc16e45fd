package screens

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/data/binding"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

// LifecycleService is what the license management screen needs;
// *licensecore.Manager implements it. Protected calls take the session the
// Gate obtained; the Manager refuses them without one.
type LifecycleService interface {
	Verify(ctx context.Context) (licensecore.Status, error)
	DownloadLicense(ctx context.Context) (licensecore.Status, []licensecore.Change, error)
	Remove(ctx context.Context, sess *licensecore.AdminSession, opts licensecore.RemoveOptions) error
	RequestSwitch(ctx context.Context, sess *licensecore.AdminSession, to wire.LicenseType) (licensecore.SwitchRequest, error)
	PendingSwitch() (licensecore.SwitchRequest, bool)
	CheckSwitch(ctx context.Context) (licensecore.SwitchRequest, licensecore.Status, error)
	Status() licensecore.Status
}

// Gate obtains an administrator session before a protected action;
// *AdminGate implements it.
type Gate interface {
	Do(action string, then func(*licensecore.AdminSession))
}

// manage is the "Manage license" screen: verify, download new license,
// switch model and remove.
type manage struct {
	svc     LifecycleService
	gate    Gate
	win     fyne.Window
	status  binding.Item[licensecore.Status]
	open    URLOpener
	publish func(licensecore.Status)
	loc     *time.Location
	run     *runner

	verifyBtn, downloadBtn, switchBtn, removeBtn, checkBtn *widget.Button
	pending                                                *widget.Label
	pendingBox                                             *fyne.Container
}

// NewManage returns the license management screen. publish hands a new
// status to the app (which Sets the binding and updates the tray).
func NewManage(ctx context.Context, svc LifecycleService, gate Gate, win fyne.Window, status binding.Item[licensecore.Status], opener URLOpener, publish func(licensecore.Status)) fyne.CanvasObject {
	return newManage(ctx, svc, gate, win, status, opener, publish, goAsync).buildUI()
}

func newManage(ctx context.Context, svc LifecycleService, gate Gate, win fyne.Window, status binding.Item[licensecore.Status], opener URLOpener, publish func(licensecore.Status), async func(func())) *manage {
	return &manage{svc: svc, gate: gate, win: win, status: status, open: openerOrApp(opener), publish: publish,
		loc: time.Local, run: newRunner(ctx, async)}
}

func (m *manage) buildUI() fyne.CanvasObject {
	m.verifyBtn = widget.NewButtonWithIcon("Verify license", theme.ConfirmIcon(), m.onVerify)
	m.downloadBtn = widget.NewButtonWithIcon("Download new license", theme.DownloadIcon(), m.onDownload)
	m.switchBtn = widget.NewButtonWithIcon("Switch model…", theme.MediaReplayIcon(), m.onSwitch)
	m.removeBtn = widget.NewButtonWithIcon("Remove license…", theme.DeleteIcon(), m.onRemove)
	m.removeBtn.Importance = widget.DangerImportance
	m.checkBtn = widget.NewButton("Check approval now", m.onCheckSwitch)
	m.run.buttons = []*widget.Button{m.verifyBtn, m.downloadBtn, m.switchBtn, m.removeBtn, m.checkBtn}
	m.pending = widget.NewLabel("")
	m.pending.Wrapping = fyne.TextWrapWord
	openApprove := widget.NewButton("Open approval page", m.onOpenApproval)
	m.pendingBox = container.NewVBox(m.pending, container.NewHBox(m.checkBtn, openApprove))
	m.pendingBox.Hide()

	title := screenTitle("Manage license")
	help := widget.NewLabel("Verify checks the license with the Authorization server. Download picks up added modules, users and capacity. " +
		"Switching between perpetual and subscription, and removing the license, need a System Administrator.")
	help.Wrapping = fyne.TextWrapWord
	m.status.AddListener(binding.NewDataListener(m.onStatus))
	return container.NewVBox(title, help,
		container.NewGridWithColumns(2, m.verifyBtn, m.downloadBtn, m.switchBtn, m.removeBtn),
		m.pendingBox, m.run.busy.box, m.run.msg)
}

func (m *manage) onStatus() {
	st, err := m.status.Get()
	if err != nil {
		return
	}
	l := st.License
	if l == nil {
		m.switchBtn.SetText("Switch model…")
		return
	}
	m.switchBtn.SetText("Switch to " + typeName(otherType(l.Type)) + "…")
	m.showPending()
}

func otherType(t wire.LicenseType) wire.LicenseType {
	if t == wire.Perpetual {
		return wire.Subscription
	}
	return wire.Perpetual
}

func (m *manage) showPending() {
	req, ok := m.svc.PendingSwitch()
	if !ok {
		m.pendingBox.Hide()
		return
	}
	m.pending.SetText(fmt.Sprintf("Switch from %s to %s requested %s; waiting for approval on the Authorization server.",
		typeName(req.From), typeName(req.To), plain.DateTime(req.RequestedAt, m.loc)))
	m.pendingBox.Show()
}

func (m *manage) onVerify() {
	var st licensecore.Status
	m.run.run("Verifying with the Authorization server…", func(ctx context.Context) (err error) {
		st, err = m.svc.Verify(ctx)
		return err
	}, func(err error) string {
		m.publish(st)
		if err != nil {
			return plain.Explain(err)
		}
		return "Verified: the license is " + inWords(verifyWords, st.License.LastVerifyResult) + "."
	})
}

func (m *manage) onDownload() {
	var st licensecore.Status
	var changes []licensecore.Change
	m.run.run("Downloading the license…", func(ctx context.Context) (err error) {
		st, changes, err = m.svc.DownloadLicense(ctx)
		return err
	}, func(err error) string {
		if err != nil {
			return plain.Explain(err)
		}
		m.publish(st)
		return plain.DescribeChanges(changes)
	})
}

func (m *manage) onSwitch() {
	st := m.svc.Status()
	if st.License == nil {
		m.run.say(plain.Explain(licensecore.ErrNotLicensed), false)
		return
	}
	showEsc(m.win, m.switchDialog(st.License.Type))
}

// switchDialog asks before requesting a switch away from license type
// from; its buttons name the choice and Escape cancels.
func (m *manage) switchDialog(from wire.LicenseType) *dialog.ConfirmDialog {
	to := otherType(from)
	what := "Switch this license from " + typeName(from) + " to " + typeName(to)
	text := wrapped(what + "?\n\nThe request must be approved on the Authorization server. The license stays active meanwhile.")
	d := dialog.NewCustomConfirm("Switch license model", "Request the switch", "Cancel", text,
		func(ok bool) {
			if !ok {
				return
			}
			m.gate.Do(what, func(sess *licensecore.AdminSession) {
				var req licensecore.SwitchRequest
				m.run.run("Sending the request…", func(ctx context.Context) (err error) {
					req, err = m.svc.RequestSwitch(ctx, sess, to)
					return err
				}, func(err error) string {
					m.showPending()
					if err != nil {
						return plain.Explain(err)
					}
					return "Requested. Ask someone to approve it on the Authorization server (" + req.ApproveURI + ")."
				})
			})
		}, m.win)
	d.Resize(fyne.NewSize(480, 0))
	return d
}

func (m *manage) onCheckSwitch() {
	var st licensecore.Status
	var req licensecore.SwitchRequest
	m.run.run("Checking the request…", func(ctx context.Context) (err error) {
		req, st, err = m.svc.CheckSwitch(ctx)
		return err
	}, func(err error) string {
		m.showPending()
		switch {
		case err != nil:
			return plain.Explain(err)
		case req.Status == wire.SwitchApproved:
			m.publish(st)
			return "Approved: the license is now " + typeName(req.To) + "."
		default:
			return "Still waiting for approval."
		}
	})
}

func (m *manage) onOpenApproval() {
	req, ok := m.svc.PendingSwitch()
	if !ok {
		return
	}
	if u, err := url.Parse(req.ApproveURI); err == nil {
		if err := m.open.OpenURL(u); err != nil {
			m.run.say(plain.Explain(err), false)
		}
	}
}

func (m *manage) onRemove() {
	showEsc(m.win, m.removeDialog())
}

// removeDialog names the action on its buttons: "Remove license" (marked
// dangerous) and "Keep"; Escape keeps.
func (m *manage) removeDialog() *dialog.ConfirmDialog {
	text := wrapped("Remove the license from this server?\n\nRegisters will no longer be able to authenticate with this server until a license is acquired again. " +
		"The Authorization server is told, so the license can be acquired again here or elsewhere. The license history is kept.")
	d := dialog.NewCustomConfirm("Remove license", "Remove license", "Keep", text,
		func(ok bool) {
			if ok {
				m.gate.Do("Remove the license", func(sess *licensecore.AdminSession) { m.remove(sess, false) })
			}
		}, m.win)
	d.SetConfirmImportance(widget.DangerImportance)
	d.Resize(fyne.NewSize(480, 0))
	return d
}

func (m *manage) remove(sess *licensecore.AdminSession, force bool) {
	m.run.run("Removing the license…", func(ctx context.Context) error {
		return m.svc.Remove(ctx, sess, licensecore.RemoveOptions{Force: force})
	}, func(err error) string {
		if err == nil {
			m.publish(m.svc.Status())
			return "The license was removed."
		}
		if !force && (errors.Is(err, licensecore.ErrAuthorityDown) || errors.Is(err, licensecore.ErrRefreshRejected)) {
			text := wrapped(plain.Explain(err) + "\n\nRemove the license from this PC anyway? The Authorization server will still count it as in use until it is released there.")
			d := dialog.NewCustomConfirm("Remove without the Authorization server?", "Remove from this PC", "Keep", text,
				func(ok bool) {
					if ok {
						m.remove(sess, true)
					}
				}, m.win)
			d.SetConfirmImportance(widget.DangerImportance)
			d.Resize(fyne.NewSize(480, 0))
			showEsc(m.win, d)
			return ""
		}
		return plain.Explain(err)
	})
}

// typeName is the license type inside a sentence.
func typeName(t wire.LicenseType) string { return strings.ToLower(inWords(typeWords, t)) }
