package screens

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/data/binding"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// OfflineService is what offline activation needs; *licensecore.Manager
// implements it.
type OfflineService interface {
	GetChallenge() (wire.Challenge, error)
	ApplyResponse(ctx context.Context, sess *licensecore.AdminSession, code string) (licensecore.Status, error)
	LicenseRequest(account, serial string) ([]byte, error)
	ImportEntitlement(ctx context.Context, sess *licensecore.AdminSession, data []byte) (licensecore.Status, error)
	Policy() licensecore.Policy
}

// offline is the "Offline activation" screen: challenge/response and the
// license request → license file exchange, for a PC without a browser or
// without internet.
type offline struct {
	svc     OfflineService
	gate    Gate
	win     fyne.Window
	status  binding.Item[licensecore.Status]
	publish func(licensecore.Status)
	run     *runner

	challenge              *widget.Entry
	response               *widget.Entry
	account, serial        *widget.Entry
	requestPath, entPath   *widget.Entry
	offlineBanner          *banner
	getBtn, upgradeBtn     *widget.Button
	requestBtn, importBtn  *widget.Button
	browseReq, browseImprt *widget.Button
}

// NewOffline returns the offline activation screen; it works licensed or
// not (a license file can license a new server). defaultDir is where
// request files are suggested.
func NewOffline(ctx context.Context, svc OfflineService, gate Gate, win fyne.Window, status binding.Item[licensecore.Status], publish func(licensecore.Status), defaultDir string) fyne.CanvasObject {
	return newOffline(ctx, svc, gate, win, status, publish, goAsync).buildUI(defaultDir)
}

func newOffline(ctx context.Context, svc OfflineService, gate Gate, win fyne.Window, status binding.Item[licensecore.Status], publish func(licensecore.Status), async func(func())) *offline {
	return &offline{svc: svc, gate: gate, win: win, status: status, publish: publish, run: newRunner(ctx, async)}
}

func heading(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.TextStyle.Bold = true
	return l
}

func (o *offline) buildUI(defaultDir string) fyne.CanvasObject {
	o.offlineBanner = newBanner(widget.WarningImportance)
	o.challenge = widget.NewEntry()
	o.challenge.TextStyle = fyne.TextStyle{Monospace: true}
	o.challenge.Disable()
	o.challenge.SetPlaceHolder("click Get challenge")
	o.getBtn = widget.NewButton("Get challenge", o.onGetChallenge)
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(o.challenge.Text)
	})
	o.response = widget.NewEntry()
	o.response.TextStyle = fyne.TextStyle{Monospace: true}
	o.response.SetPlaceHolder("response code from the Authorization server")
	o.upgradeBtn = widget.NewButton("Upgrade", o.onUpgrade)

	o.account = widget.NewEntry()
	o.account.SetPlaceHolder("account number")
	o.serial = widget.NewEntry()
	o.serial.SetPlaceHolder("serial number")
	o.requestPath = widget.NewEntry()
	o.requestPath.SetText(filepath.Join(defaultDir, "license-request.json"))
	o.requestBtn = widget.NewButtonWithIcon("Generate license request", theme.DocumentSaveIcon(), o.onRequest)
	o.browseReq = widget.NewButton("Browse…", func() { o.browse(o.requestPath, true) })
	o.entPath = widget.NewEntry()
	o.entPath.SetPlaceHolder("path of the license file (.ent)")
	o.importBtn = widget.NewButtonWithIcon("Import license file", theme.UploadIcon(), o.onImport)
	o.browseImprt = widget.NewButton("Browse…", func() { o.browse(o.entPath, false) })
	o.run.buttons = []*widget.Button{o.getBtn, o.upgradeBtn, o.requestBtn, o.importBtn}

	title := screenTitle("Offline activation")
	challengeHelp := widget.NewLabel("Upgrade without a browser on this PC: read the challenge to someone at the Authorization server's Upgrade page " +
		"and type the response code they give you. You may close License Desk meanwhile; the challenge is kept.")
	challengeHelp.Wrapping = fyne.TextWrapWord
	fileHelp := widget.NewLabel("No internet here: generate a license request, take it to a PC with a browser, turn it into a license file " +
		"on the Authorization server's License file page, and import that file here. A license activated offline stays valid for 30 days without contact.")
	fileHelp.Wrapping = fyne.TextWrapWord

	o.status.AddListener(binding.NewDataListener(o.onStatus))
	return container.NewVBox(title, o.offlineBanner.box,
		heading("Challenge / response"), challengeHelp,
		container.NewBorder(nil, nil, o.getBtn, copyBtn, o.challenge),
		container.NewBorder(nil, nil, widget.NewLabel("Upgrade"), o.upgradeBtn, o.response),
		widget.NewSeparator(),
		heading("License request and license file"), fileHelp,
		container.NewGridWithColumns(2, o.account, o.serial),
		container.NewBorder(nil, nil, nil, container.NewHBox(o.browseReq, o.requestBtn), o.requestPath),
		container.NewBorder(nil, nil, nil, container.NewHBox(o.browseImprt, o.importBtn), o.entPath),
		o.run.busy.box, o.run.msg)
}

func (o *offline) onStatus() {
	st, err := o.status.Get()
	if err != nil {
		return
	}
	o.offlineBanner.set(OfflineWarning(st))
}

func (o *offline) onGetChallenge() {
	ch, err := o.svc.GetChallenge()
	if err != nil {
		o.run.say(Explain(err), false)
		return
	}
	o.challenge.SetText(ch.String())
}

func (o *offline) onUpgrade() {
	code := strings.TrimSpace(o.response.Text)
	if code == "" {
		o.run.say("Type the response code first.", false)
		return
	}
	o.gate.Do("Apply a response code", func(sess *licensecore.AdminSession) {
		var st licensecore.Status
		o.run.run("Checking the response code…", func(ctx context.Context) (err error) {
			st, err = o.svc.ApplyResponse(ctx, sess, code)
			return err
		}, func(err error) string {
			if err != nil {
				return Explain(err)
			}
			o.publish(st)
			o.response.SetText("")
			o.challenge.SetText("")
			return "Upgrade applied."
		})
	})
}

func (o *offline) onRequest() {
	path := strings.TrimSpace(o.requestPath.Text)
	data, err := o.svc.LicenseRequest(strings.TrimSpace(o.account.Text), strings.TrimSpace(o.serial.Text))
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		o.run.say(Explain(err), false)
		return
	}
	o.run.say("License request saved to "+path+". Take it to the Authorization server's License file page.", true)
}

func (o *offline) onImport() {
	path := strings.TrimSpace(o.entPath.Text)
	data, err := readLimited(path, wire.MaxEntitlementFile)
	if err != nil {
		o.run.say(err.Error(), false)
		return
	}
	o.gate.Do("Import a license file", func(sess *licensecore.AdminSession) {
		var st licensecore.Status
		o.run.run("Checking the license file…", func(ctx context.Context) (err error) {
			st, err = o.svc.ImportEntitlement(ctx, sess, data)
			return err
		}, func(err error) string {
			if err != nil {
				return Explain(err)
			}
			o.publish(st)
			return "License file imported: this server is " + st.State.String() + "."
		})
	})
}

// readLimited reads at most limit bytes; a larger file is refused unread.
func readLimited(path string, limit int64) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("choose the license file first")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %v", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than a license file can be (%d KiB): it is not a license file", path, limit>>10)
	}
	return data, nil
}

// browse fills entry from a file dialog.
func (o *offline) browse(entry *widget.Entry, save bool) {
	set := func(u fyne.URI) {
		if u != nil {
			entry.SetText(u.Path())
		}
	}
	var d *dialog.FileDialog
	if save {
		d = dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
			if err == nil && w != nil {
				set(w.URI())
				w.Close()
			}
		}, o.win)
		d.SetFileName(filepath.Base(entry.Text))
	} else {
		d = dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
			if err == nil && r != nil {
				set(r.URI())
				r.Close()
			}
		}, o.win)
		d.SetFilter(storage.NewExtensionFileFilter([]string{".ent"}))
	}
	if dir, err := storage.ListerForURI(storage.NewFileURI(filepath.Dir(entry.Text))); err == nil && entry.Text != "" {
		d.SetLocation(dir)
	}
	d.Show()
}
