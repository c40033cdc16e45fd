package screens

import (
	"context"
	"fmt"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

// PoolService is what the cloud license screen needs; *licensecore.Pool
// implements it.
type PoolService interface {
	PoolLicenses(ctx context.Context) ([]wire.PoolLicense, error)
	ActivatePool(ctx context.Context, sess *licensecore.AdminSession, ids []string, progress func(done, total int)) ([]licensecore.ActivatedLicense, error)
	TransferToPool(ctx context.Context, sess *licensecore.AdminSession, ids []string) (licensecore.TransferResult, error)
	ActivatedLicenses() ([]licensecore.ActivatedLicense, error)
	TotalCapacity() (licensecore.PoolTotals, error)
	PlanTransfer(ids []string) (licensecore.TransferPlan, error)
}

// poolTimeout bounds a whole activation batch; each license is one request.
const poolTimeout = 10 * time.Minute

// pool is "Cloud licenses": download the pool's list, activate some, and
// transfer activated ones back.
type pool struct {
	ctx   context.Context
	svc   PoolService
	gate  Gate
	win   fyne.Window
	loc   *time.Location
	async func(func())
	run   *runner

	available []wire.PoolLicense
	activated []licensecore.ActivatedLicense
	pickPool  map[string]bool
	pickMine  map[string]bool

	cols                                       *columns
	poolTable, mineTable                       *fyne.Container
	totals, poolEmpty                          *widget.Label
	downloadBtn, activateBtn, transferBtn, all *widget.Button
	progress                                   *widget.ProgressBar
	cancelBtn                                  *widget.Button
	progressBox                                *fyne.Container
	cancel                                     context.CancelFunc
}

// NewPool returns the cloud license screen.
func NewPool(ctx context.Context, svc PoolService, gate Gate, win fyne.Window) fyne.CanvasObject {
	return newPool(ctx, svc, gate, win, goAsync).buildUI()
}

func newPool(ctx context.Context, svc PoolService, gate Gate, win fyne.Window, async func(func())) *pool {
	return &pool{ctx: ctx, svc: svc, gate: gate, win: win, loc: time.Local, async: async, run: newRunner(ctx, async),
		pickPool: map[string]bool{}, pickMine: map[string]bool{}}
}

// licenseRow is one license in either table.
type licenseRow struct {
	id, date, desc string
}

// newLicenseTable is a table of licenses under the headings License ID,
// date and Description, with a check box before each license; the rows
// come from setLicenseRows.
func newLicenseTable(cols *columns, date string) *fyne.Container {
	return cols.newTable(layout.NewSpacer(), heading("License ID"), heading(date), heading("Description"))
}

// setLicenseRows shows rows in t, one of cols' tables, under its
// headings, each checked as picks says; a click on a check box calls pick.
// An empty table is hidden: a header over nothing says less than the line
// above it.
func setLicenseRows(cols *columns, t *fyne.Container, rows []licenseRow, picks map[string]bool, pick func(id string, on bool)) {
	cells := t.Objects[:4:4]
	for _, r := range rows {
		check := widget.NewCheck("", nil)
		check.SetChecked(picks[r.id])
		check.OnChanged = func(on bool) { pick(r.id, on) }
		cells = append(cells, check, widget.NewLabel(r.id), widget.NewLabel(r.date), wrapped(r.desc))
	}
	t.Objects = cells
	if len(rows) == 0 {
		t.Hide()
	} else {
		t.Show()
	}
	cols.refresh()
}

func (p *pool) buildUI() fyne.CanvasObject {
	// One set of columns: both tables line up with each other.
	p.cols = &columns{n: 4}
	p.poolTable = newLicenseTable(p.cols, "Transfer Date")
	p.mineTable = newLicenseTable(p.cols, "Activated")
	p.poolEmpty = widget.NewLabel("Click Download licenses from the cloud to see the licenses available to this customer.")
	p.poolEmpty.Wrapping = fyne.TextWrapWord
	p.totals = wrapped("")
	p.downloadBtn = widget.NewButtonWithIcon("Download licenses from the cloud", theme.DownloadIcon(), p.onDownload)
	p.activateBtn = widget.NewButtonWithIcon("Activate", theme.ConfirmIcon(), p.onActivate)
	p.activateBtn.Importance = widget.HighImportance
	p.transferBtn = widget.NewButtonWithIcon("Transfer selected to cloud", theme.UploadIcon(), func() { p.onTransfer(false) })
	p.all = widget.NewButton("Transfer all to cloud", func() { p.onTransfer(true) })
	p.run.buttons = []*widget.Button{p.downloadBtn, p.activateBtn, p.transferBtn, p.all}
	p.progress = widget.NewProgressBar()
	p.cancelBtn = widget.NewButton("Cancel", p.onCancel)
	p.progressBox = container.NewBorder(nil, nil, nil, p.cancelBtn, p.progress)
	p.progressBox.Hide()

	p.showPool()
	p.reloadActivated()
	p.updateButtons()
	return container.NewVBox(screenTitle("Cloud licenses"),
		heading("Available in the cloud pool"), p.downloadBtn, p.poolEmpty, p.poolTable,
		container.NewHBox(p.activateBtn), p.progressBox,
		widget.NewSeparator(),
		heading("Activated on this server"), p.totals, p.mineTable,
		container.NewHBox(p.transferBtn, p.all),
		p.run.busy.box, p.run.msg)
}

func picked(m map[string]bool) []string {
	var ids []string
	for id, on := range m {
		if on {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (p *pool) updateButtons() {
	if p.run.busy.running() || p.progressBox.Visible() {
		return
	}
	enable(p.activateBtn, len(picked(p.pickPool)) > 0)
	enable(p.transferBtn, len(picked(p.pickMine)) > 0)
	enable(p.all, slices.ContainsFunc(p.activated, func(a licensecore.ActivatedLicense) bool { return a.State == licensecore.ActivationActive }))
}

func enable(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// reloadActivated reads this server's licenses from the store (no network).
func (p *pool) reloadActivated() {
	mine, err := p.svc.ActivatedLicenses()
	if err != nil {
		p.run.say(plain.Explain(err), false)
		return
	}
	p.activated = mine
	p.pickMine = map[string]bool{}
	t, err := p.svc.TotalCapacity()
	if err == nil {
		line := fmt.Sprintf("Capacity from cloud licenses: %s", plain.Plural(t.Devices, "device"))
		if !t.MaintenanceUntil.IsZero() {
			line += "; maintenance until " + plain.Date(t.MaintenanceUntil, p.loc)
		}
		p.totals.SetText(line)
	}
	p.showMine()
}

// showPool shows the licenses available in the cloud pool.
func (p *pool) showPool() {
	rows := make([]licenseRow, len(p.available))
	for i, l := range p.available {
		rows[i] = licenseRow{l.ID, plain.Date(l.TransferDate, p.loc), plain.DescribePool(l)}
	}
	setLicenseRows(p.cols, p.poolTable, rows, p.pickPool, func(id string, on bool) { p.pickPool[id] = on; p.updateButtons() })
}

// showMine shows the licenses activated on this server.
func (p *pool) showMine() {
	rows := make([]licenseRow, len(p.activated))
	for i, a := range p.activated {
		desc := plain.DescribePool(a.PoolLicense)
		if a.State == licensecore.ActivationReturning {
			desc += " (returning to the cloud)"
		}
		rows[i] = licenseRow{a.ID, plain.Date(a.ActivatedAt, p.loc), desc}
	}
	setLicenseRows(p.cols, p.mineTable, rows, p.pickMine, func(id string, on bool) { p.pickMine[id] = on; p.updateButtons() })
}

func (p *pool) onDownload() {
	var list []wire.PoolLicense
	p.run.run("Downloading the list of cloud licenses…", func(ctx context.Context) (err error) {
		list, err = p.svc.PoolLicenses(ctx)
		return err
	}, func(err error) string {
		defer p.updateButtons()
		if err != nil {
			return plain.Explain(err)
		}
		p.available, p.pickPool = list, map[string]bool{}
		p.showPool()
		if len(list) == 0 {
			p.poolEmpty.SetText("The cloud pool has no license available for this customer.")
			p.poolEmpty.Show()
		} else {
			p.poolEmpty.Hide()
		}
		return ""
	})
}

func (p *pool) onActivate() {
	ids := picked(p.pickPool)
	if len(ids) == 0 {
		return
	}
	p.gate.Do(fmt.Sprintf("Activate %s from the cloud", plain.Plural(len(ids), "license")), func(sess *licensecore.AdminSession) {
		ctx, cancel := context.WithTimeout(p.ctx, poolTimeout)
		p.cancel = cancel
		p.progress.SetValue(0)
		p.progressBox.Show()
		p.cancelBtn.Enable()
		for _, b := range p.run.buttons {
			b.Disable()
		}
		p.async(func() {
			done, err := p.svc.ActivatePool(ctx, sess, ids, func(n, total int) {
				fyne.Do(func() { p.progress.SetValue(float64(n) / float64(max(total, 1))) })
			})
			cancel()
			fyne.Do(func() { p.onActivated(ids, done, err) })
		})
	})
}

// onActivated shows the outcome of an activation batch, complete or not.
func (p *pool) onActivated(ids []string, done []licensecore.ActivatedLicense, err error) {
	p.progressBox.Hide()
	for _, b := range p.run.buttons {
		b.Enable()
	}
	p.available = slices.DeleteFunc(p.available, func(l wire.PoolLicense) bool {
		return slices.ContainsFunc(done, func(a licensecore.ActivatedLicense) bool { return a.ID == l.ID })
	})
	p.pickPool = map[string]bool{}
	p.showPool()
	p.reloadActivated()
	p.updateButtons()
	switch {
	case err == nil:
		p.run.say(fmt.Sprintf("Activated %s on this server.", plain.Plural(len(done), "license")), true)
	case len(done) > 0:
		p.run.say(fmt.Sprintf("Activated %d of %d licenses; the rest were not: %s", len(done), len(ids), plain.Explain(err)), false)
	default:
		p.run.say(plain.Explain(err), false)
	}
}

func (p *pool) onCancel() {
	if p.cancel != nil {
		p.cancel()
		p.cancelBtn.Disable()
	}
}

func (p *pool) onTransfer(all bool) {
	var ids []string // nil: all
	if !all {
		ids = picked(p.pickMine)
	}
	plan, err := p.svc.PlanTransfer(ids)
	if err != nil {
		p.run.say(plain.Explain(err), false)
		return
	}
	showEsc(p.win, p.transferDialog(ids, plan))
}

// transferDialog says what returning ids (nil: all) to the cloud pool
// changes before it is done; its buttons name the choice, the transfer
// marked as dangerous since registers may lose their license, and Escape
// keeps the licenses.
func (p *pool) transferDialog(ids []string, plan licensecore.TransferPlan) *dialog.ConfirmDialog {
	text := wrapped(plain.TransferImpact(plan) + "\n\nTransfer now?")
	d := dialog.NewCustomConfirm("Transfer to cloud", "Transfer to cloud", "Keep", text, func(ok bool) {
		if !ok {
			return
		}
		p.gate.Do("Transfer licenses to the cloud", func(sess *licensecore.AdminSession) {
			var res licensecore.TransferResult
			p.run.run("Returning licenses to the cloud pool…", func(ctx context.Context) (err error) {
				res, err = p.svc.TransferToPool(ctx, sess, ids)
				return err
			}, func(err error) string {
				p.reloadActivated()
				p.updateButtons()
				if err != nil {
					return plain.Explain(err)
				}
				msg := fmt.Sprintf("%s returned to the cloud pool.", plain.Plural(len(res.Returned), "license"))
				if len(res.Pending) > 0 {
					msg += fmt.Sprintf(" %s will be confirmed when the Authorization server can be reached; they no longer count here.", plain.Plural(len(res.Pending), "license"))
				}
				return msg
			})
		})
	}, p.win)
	d.SetConfirmImportance(widget.DangerImportance)
	d.Resize(fyne.NewSize(480, 0))
	return d
}
