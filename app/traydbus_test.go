package app

import (
	"os"
	"testing"

	"github.com/godbus/dbus/v5"
)

// TestHaveTrayHost: the window's close hint depends on whether a tray
// host owns org.kde.StatusNotifierWatcher on the session bus (plain GNOME
// has none). Needs the test's D-Bus session (make test provides one).
func TestHaveTrayHost(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("LICENSEDESK_E2E") == "1" {
			t.Fatal("no D-Bus session")
		}
		t.Skip("no D-Bus session")
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if haveTrayHost() {
		t.Skip("this session already has a tray host")
	}
	reply, err := conn.RequestName(trayWatcher, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("cannot play the tray host: %v %v", reply, err)
	}
	if !haveTrayHost() {
		t.Fatal("a tray host on the bus was not seen")
	}
	if _, err := conn.ReleaseName(trayWatcher); err != nil {
		t.Fatal(err)
	}
	if haveTrayHost() {
		t.Fatal("a tray host that left the bus is still seen")
	}
}
