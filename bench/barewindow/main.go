// Command barewindow is the yardstick for bench/startup.sh: the smallest
// Fyne program with one window (titled "Bare Window", the same size as
// License Desk's), built and measured beside the app in the same run.
package main

import (
	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := fyneapp.NewWithID("com.licensedesk.barewindow")
	w := a.NewWindow("Bare Window")
	w.SetContent(widget.NewLabel("Bare Window"))
	w.Resize(fyne.NewSize(780, 600)) // app/ui.go: keep the two equal
	w.ShowAndRun()
}
