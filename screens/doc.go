// Package screens is License Desk's Fyne user interface: the acquisition
// wizard, the license details, license management, offline activation, the
// customer account, the cloud licenses, the settings form, the
// administrator gate and the tray menu model. It declares the small
// interfaces it needs (LicenseService, PoolService, …), which licensecore's
// concrete types implement, and it composes every sentence a person reads:
// Explain turns any error into one (errors.go), words.go words the facts
// licensecore returns (offline window, notifications, transfer plans). It
// never imports fyne.io/fyne/v2/app and holds no long-lived state of its
// own: the app wires it to the services and one status binding.
package screens
