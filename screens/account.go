package screens

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

// AccountService is what the customer account screen needs;
// *licensecore.Manager implements it.
type AccountService interface {
	Account() (licensecore.Account, error)
	SetCustomerID(ctx context.Context, sess *licensecore.AdminSession, id string) (licensecore.Account, error)
}

// account is "Manage customer account": the install code and server name
// (read-only) and the Customer ID, whose Save / Discard buttons appear
// only once it is edited.
type account struct {
	svc  AccountService
	gate Gate
	run  *runner

	install, server, customerName *widget.Label
	customerID                    *widget.Entry
	saved                         string
	saveBtn, discardBtn           *widget.Button
	edits                         *fyne.Container
}

// NewAccount returns the customer account screen.
func NewAccount(ctx context.Context, svc AccountService, gate Gate) fyne.CanvasObject {
	return newAccount(ctx, svc, gate, goAsync).buildUI()
}

func newAccount(ctx context.Context, svc AccountService, gate Gate, async func(func())) *account {
	return &account{svc: svc, gate: gate, run: newRunner(ctx, async)}
}

func (a *account) buildUI() fyne.CanvasObject {
	a.install = widget.NewLabel("")
	a.install.TextStyle = fyne.TextStyle{Monospace: true}
	a.install.Selectable = true
	a.server = widget.NewLabel("")
	a.customerName = widget.NewLabel("")
	a.customerID = widget.NewEntry()
	a.customerID.SetPlaceHolder("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
	a.customerID.OnChanged = a.onEdited
	a.customerID.Validator = func(s string) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		_, err := wire.ParseCustomerID(s)
		return err
	}
	a.saveBtn = widget.NewButton("Save changes", a.onSave)
	a.saveBtn.Importance = widget.HighImportance
	a.discardBtn = widget.NewButton("Discard changes", a.onDiscard)
	a.edits = container.NewHBox(a.saveBtn, a.discardBtn)
	a.edits.Hide()
	a.run.buttons = []*widget.Button{a.saveBtn, a.discardBtn}

	bold := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	}
	form := container.New(layout.NewFormLayout(),
		bold("Install code"), a.install,
		bold("Server name"), a.server,
		bold("Customer ID"), a.customerID,
		bold("Customer"), a.customerName,
	)
	help := widget.NewLabel("The Customer ID comes from the Customers page of the Authorization server. Cloud licenses are drawn from that customer's pool.")
	help.Wrapping = fyne.TextWrapWord
	a.load()
	return container.NewVBox(screenTitle("Manage customer account"), help, form, a.edits, a.run.busy.box, a.run.msg)
}

func (a *account) load() {
	acc, err := a.svc.Account()
	if err != nil {
		a.run.say(plain.Explain(err), false)
		return
	}
	a.show(acc)
}

func (a *account) show(acc licensecore.Account) {
	a.install.SetText(acc.InstallCode)
	a.server.SetText(acc.ServerName)
	a.customerName.SetText(plain.OrNone(acc.CustomerName))
	a.saved = acc.CustomerID
	a.customerID.SetText(acc.CustomerID)
	a.edits.Hide()
}

// onEdited shows Save / Discard only while the field differs from what is
// saved.
func (a *account) onEdited(s string) {
	if strings.TrimSpace(s) == a.saved {
		a.edits.Hide()
	} else {
		a.edits.Show()
	}
}

func (a *account) onDiscard() {
	a.customerID.SetText(a.saved)
	a.run.msg.Hide()
}

func (a *account) onSave() {
	id, err := wire.ParseCustomerID(a.customerID.Text)
	if err != nil {
		a.run.say(err.Error(), false)
		return
	}
	a.gate.Do("Change the Customer ID", func(sess *licensecore.AdminSession) {
		var acc licensecore.Account
		a.run.run("Checking the Customer ID with the Authorization server…", func(ctx context.Context) (err error) {
			acc, err = a.svc.SetCustomerID(ctx, sess, id)
			return err
		}, func(err error) string {
			if err != nil {
				return plain.Explain(err)
			}
			a.show(acc)
			return "Saved: this server now draws cloud licenses for " + plain.OrNone(acc.CustomerName) + "."
		})
	})
}
