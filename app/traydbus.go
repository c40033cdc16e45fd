package app

import (
	"github.com/godbus/dbus/v5"
)

// trayWatcher is the D-Bus name a tray host owns (KDE, GNOME with the
// AppIndicator extension, most others).
const trayWatcher = "org.kde.StatusNotifierWatcher"

// haveTrayHost reports whether the session has a tray host to show the
// tray icon; without one (plain GNOME) the icon is invisible.
func haveTrayHost() bool {
	conn, err := dbus.SessionBusPrivate()
	if err != nil {
		return false
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return false
	}
	if err := conn.Hello(); err != nil {
		return false
	}
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, trayWatcher).Store(&has); err != nil {
		return false
	}
	return has
}
