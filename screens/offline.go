package screens

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/data/binding"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
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

// offline is the "Offline activation" screen: a code read to the provider
// and their reply code, and the license request → license file exchange, for a PC without a browser or
// without internet.
type offline struct {
	svc     OfflineService
	gate    Gate
	win     fyne.Window
	status  binding.Item[licensecore.Status]
	publish func(licensecore.Status)
	run     *runner

	challenge              *widget.Label
	challengeBox           *fyne.Container
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
	// The code someone reads aloud: large, monospace, selectable, in the
	// normal text color on a framed background, never a disabled field.
	o.challenge = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
	o.challenge.SizeName = theme.SizeNameHeadingText
	o.challenge.Selectable = true
	o.getBtn = widget.NewButtonWithIcon("Get code", theme.ViewRefreshIcon(), o.onGetChallenge)
	o.getBtn.Importance = widget.HighImportance
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(o.challenge.Text)
	})
	frame := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	frame.StrokeColor = theme.Color(theme.ColorNameForeground)
	frame.StrokeWidth = 1
	frame.CornerRadius = theme.InputRadiusSize()
	o.challengeBox = container.NewStack(frame, container.NewBorder(nil, nil, nil, container.NewCenter(copyBtn), o.challenge))
	o.challengeBox.Hide()
	o.response = widget.NewEntry()
	o.response.TextStyle = fyne.TextStyle{Monospace: true}
	o.response.SetPlaceHolder("Reply code, for example BCDFG-HJKLM-…")
	o.response.OnSubmitted = func(string) { o.onUpgrade() }
	o.upgradeBtn = widget.NewButtonWithIcon("Apply reply code", theme.ConfirmIcon(), o.onUpgrade)

	o.account = widget.NewEntry()
	o.account.SetPlaceHolder("Account number")
	o.serial = widget.NewEntry()
	o.serial.SetPlaceHolder("Serial number")
	o.requestPath = widget.NewEntry()
	o.requestPath.SetText(filepath.Join(defaultDir, "license-request.json"))
	o.requestBtn = widget.NewButtonWithIcon("Generate license request", theme.DocumentSaveIcon(), o.onRequest)
	o.browseReq = widget.NewButton("Browse…", func() { o.browse(o.requestPath, true) })
	o.entPath = widget.NewEntry()
	o.entPath.SetPlaceHolder("License file from the Authorization server")
	o.importBtn = widget.NewButtonWithIcon("Import license file", theme.UploadIcon(), o.onImport)
	o.browseImprt = widget.NewButton("Browse…", func() { o.browse(o.entPath, false) })
	o.run.buttons = []*widget.Button{o.getBtn, o.upgradeBtn, o.requestBtn, o.importBtn}

	title := screenTitle("Offline activation")
	codeHelp := wrapped("For a PC without a browser. 1. Click Get code. 2. Read the code aloud to your provider, or send it. " +
		"3. Type the reply code they give you and click Apply reply code. You may close License Desk meanwhile: the code is kept.")
	fileHelp := wrapped("For a PC without internet. 1. Enter the account and serial numbers and click Generate license request. " +
		"2. Take the request file to a PC with a browser and turn it into a license file on the Authorization server's License file page. " +
		"3. Choose that file here and click Import license file. A license activated offline stays valid for 30 days without contact.")

	o.status.AddListener(binding.NewDataListener(o.onStatus))
	return container.NewVBox(title, o.offlineBanner.box,
		heading("Activate by phone or e-mail"), codeHelp,
		container.NewHBox(o.getBtn), o.challengeBox,
		container.New(layout.NewFormLayout(), widget.NewLabel("Reply code"),
			container.NewBorder(nil, nil, nil, o.upgradeBtn, o.response)),
		widget.NewSeparator(),
		heading("Activate with a license file"), fileHelp,
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
	o.offlineBanner.set(plain.OfflineWarning(st))
}

func (o *offline) onGetChallenge() {
	ch, err := o.svc.GetChallenge()
	if err != nil {
		o.run.say(plain.Explain(err), false)
		return
	}
	o.challenge.SetText(ch.String())
	o.challengeBox.Show()
}

func (o *offline) onUpgrade() {
	code := strings.TrimSpace(o.response.Text)
	if code == "" {
		o.run.say("Type the reply code from your provider first.", false)
		return
	}
	o.gate.Do("Apply a reply code", func(sess *licensecore.AdminSession) {
		var st licensecore.Status
		o.run.run("Checking the reply code…", func(ctx context.Context) (err error) {
			st, err = o.svc.ApplyResponse(ctx, sess, code)
			return err
		}, func(err error) string {
			if err != nil {
				return plain.Explain(err)
			}
			o.publish(st)
			o.response.SetText("")
			o.challenge.SetText("")
			o.challengeBox.Hide()
			return "Reply code applied: " + plain.Headline(st) + "."
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
		o.run.say(plain.Explain(err), false)
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
				return plain.Explain(err)
			}
			o.publish(st)
			return "License file imported: " + plain.Headline(st) + "."
		})
	})
}

// readLimited reads at most limit bytes; a larger file is refused unread.
func readLimited(path string, limit int64) ([]byte, error) {
	if path == "" {
		return nil, sentenceError{"Choose the license file first (Browse…)."}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, sentenceError{fmt.Sprintf("The file %s cannot be opened (%v).", path, err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, sentenceError{fmt.Sprintf("The file %s cannot be read (%v).", path, err)}
	}
	if int64(len(data)) > limit {
		return nil, sentenceError{fmt.Sprintf("%s is larger than a license file can be (%d KiB): it is not a license file.", path, limit>>10)}
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
