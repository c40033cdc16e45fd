package app

import (
	"fmt"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
)

// settingsForm edits Settings; saving validates, persists, and applies the
// new authority URL and thresholds at once.
func (g *gui) settingsForm(w fyne.Window) fyne.CanvasObject {
	cur := g.c.settings
	url := widget.NewEntry()
	url.SetText(g.c.mgr.AuthorityURL())
	url.Validator = func(s string) error { _, err := licensecore.ParseAuthorityURL(s); return err }
	days := intEntry(cur.RenewalDays, 1, 365)
	hours := intEntry(cur.TokenWarnHours, 1, 24*30)
	pct := intEntry(cur.TokenWarnPct, 1, 99)
	minimized := widget.NewCheck("Start minimized to the tray", nil)
	minimized.SetChecked(cur.StartMinimized)
	form := &widget.Form{
		Items: []*widget.FormItem{
			{Text: "Authorization server", Widget: url, HintText: "e.g. https://licensing.example.com"},
			{Text: "Renewal warning (days)", Widget: days},
			{Text: "Token warning (hours)", Widget: hours},
			{Text: "Token warning (% of lifetime)", Widget: pct},
			{Text: "", Widget: minimized},
		},
		SubmitText: "Save",
		OnSubmit: func() {
			next := Settings{AuthorityURL: url.Text, StartMinimized: minimized.Checked}
			next.RenewalDays, _ = strconv.Atoi(days.Text)
			next.TokenWarnHours, _ = strconv.Atoi(hours.Text)
			next.TokenWarnPct, _ = strconv.Atoi(pct.Text)
			if err := g.applySettings(next); err != nil {
				dialog.ShowError(err, w)
				return
			}
			w.Close()
		},
		OnCancel: w.Close,
	}
	return form
}

func intEntry(v, lo, hi int) *widget.Entry {
	e := widget.NewEntry()
	e.SetText(strconv.Itoa(v))
	e.Validator = func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("enter a whole number from %d to %d", lo, hi)
		}
		return nil
	}
	return e
}

func (g *gui) applySettings(next Settings) error {
	if g.c.demo != nil && next.AuthorityURL != g.c.demo.url {
		return fmt.Errorf("in demo mode the Authorization server is the built-in one (%s)", g.c.demo.url)
	}
	if err := g.c.mgr.SetPolicy(next.policy()); err != nil {
		return err
	}
	if err := g.c.mgr.SetAuthorityURL(next.AuthorityURL); err != nil {
		return err
	}
	if err := saveSettings(g.c.store, next); err != nil {
		return err
	}
	g.c.settings = next
	g.publish(g.c.mgr.Status())
	return nil
}
