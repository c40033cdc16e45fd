package screens

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// actionTimeout bounds one license action so a button never stays busy on
// a half-open connection.
const actionTimeout = 2 * refreshTimeout

// runner runs a screen's background actions one at a time: it disables the
// buttons, shows what is awaited, and reports the outcome in plain words
// under them (offline is a sentence, not a dialog).
type runner struct {
	ctx     context.Context
	async   func(func())
	busy    *progress
	msg     *widget.Label
	buttons []*widget.Button
}

func newRunner(ctx context.Context, async func(func())) *runner {
	msg := widget.NewLabel("")
	msg.Wrapping = fyne.TextWrapWord
	msg.Hide()
	return &runner{ctx: ctx, async: async, busy: newProgress(""), msg: msg}
}

// say shows msg (good news when ok, a problem otherwise).
func (r *runner) say(msg string, ok bool) {
	r.msg.Importance = widget.SuccessImportance
	if !ok {
		r.msg.Importance = widget.DangerImportance
	}
	r.msg.SetText(msg)
	r.msg.Show()
}

// run starts work off the UI thread; done runs on the UI thread with its
// result and returns the sentence to show.
func (r *runner) run(waiting string, work func(ctx context.Context) error, done func(err error) string) {
	if r.busy.running() {
		return
	}
	r.busy.text.SetText(waiting)
	r.busy.start()
	r.msg.Hide()
	for _, b := range r.buttons {
		b.Disable()
	}
	r.async(func() {
		ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
		err := work(ctx)
		cancel()
		fyne.Do(func() {
			r.busy.stop()
			for _, b := range r.buttons {
				b.Enable()
			}
			if msg := done(err); msg != "" {
				r.say(msg, err == nil)
			}
		})
	})
}
