package screens

import (
	"context"
	"net/url"

	"fyne.io/fyne/v2"

	"licensedesk/licensecore"
)

// DeviceAuthorizer is what the acquisition wizard needs: the RFC 8628
// device flow and the facts that help the user pick this device.
type DeviceAuthorizer interface {
	StartDeviceAuth(ctx context.Context) (*licensecore.DeviceAuthorization, error)
	CompleteDeviceAuth(ctx context.Context, da *licensecore.DeviceAuthorization) (licensecore.Status, error)
	DeviceIdentity() (name, installCode string)
	AuthorityURL() string
}

// TokenRefresher is what the details screen needs.
type TokenRefresher interface {
	RefreshNow(ctx context.Context) (licensecore.Status, error)
	AuthorityURL() string
}

// LicenseService is everything the screens use; *licensecore.Manager
// implements it.
type LicenseService interface {
	DeviceAuthorizer
	TokenRefresher
	Status() licensecore.Status
}

// URLOpener opens a web page in the user's browser; fyne.App implements it.
type URLOpener interface {
	OpenURL(u *url.URL) error
}

// currentAppOpener defers to the running Fyne app at click time, so a
// screen can be built before the app is current.
type currentAppOpener struct{}

func (currentAppOpener) OpenURL(u *url.URL) error { return fyne.CurrentApp().OpenURL(u) }

func openerOrApp(o URLOpener) URLOpener {
	if o == nil {
		return currentAppOpener{}
	}
	return o
}

// goAsync is the default way screens start background work. Screens keep it
// in a field so tests can track the goroutines and wait for them.
func goAsync(f func()) { go f() }

// openAuthority opens the authorization server's home page and returns a
// sentence describing the failure, or "".
func openAuthority(o URLOpener, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return "The authorization server address is not set correctly. Fix it in Settings."
	}
	if err := o.OpenURL(u); err != nil {
		return "The browser could not be opened. Open " + raw + " by hand."
	}
	return ""
}
