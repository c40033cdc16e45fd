// Package assets embeds License Desk's icons: the app icon and one tray icon
// per license state (ok, warning, expired, unlicensed).
package assets

//go:generate go run ./internal/genicons

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

var (
	//go:embed icon.png
	iconPNG []byte
	//go:embed tray_ok.png
	trayOKPNG []byte
	//go:embed tray_warning.png
	trayWarningPNG []byte
	//go:embed tray_expired.png
	trayExpiredPNG []byte
	//go:embed tray_unlicensed.png
	trayUnlicensedPNG []byte
)

// Icons as Fyne resources. They are values, not functions, because they
// never change and the tray swaps between them often.
var (
	AppIcon        fyne.Resource = fyne.NewStaticResource("icon.png", iconPNG)
	TrayOK         fyne.Resource = fyne.NewStaticResource("tray_ok.png", trayOKPNG)
	TrayWarning    fyne.Resource = fyne.NewStaticResource("tray_warning.png", trayWarningPNG)
	TrayExpired    fyne.Resource = fyne.NewStaticResource("tray_expired.png", trayExpiredPNG)
	TrayUnlicensed fyne.Resource = fyne.NewStaticResource("tray_unlicensed.png", trayUnlicensedPNG)
)
