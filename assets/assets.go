// Package assets embeds License Desk's icons: the app icon and one tray icon
// per license state (ok, warning, expired, unlicensed), as PNG images. It
// has no Fyne import, so the agent and the tray carry the icons without
// the toolkit.
package assets

//go:generate go run ./internal/genicons

import (
	_ "embed"
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

// AppIcon returns the application icon.
func AppIcon() []byte { return iconPNG }

// TrayIcon returns the tray icon for a license state: "ok", "warning",
// "expired" or "unlicensed" (anything else gets the unlicensed icon).
func TrayIcon(state string) []byte {
	switch state {
	case "ok":
		return trayOKPNG
	case "warning":
		return trayWarningPNG
	case "expired":
		return trayExpiredPNG
	}
	return trayUnlicensedPNG
}
