// Package app wires License Desk together and owns its processes: it opens
// the store, builds licensecore's Manager, Admins and Pool, and starts the
// window, the tray, notifications, the background refresher, the
// second-instance socket and, in demo mode, the reference authority on
// loopback. It implements the `status --json` command (statusjson.go: the
// stable document IT monitoring reads). Every long-lived goroutine starts
// through core.goLong and stops in core.close, in the reverse order of
// opening. Nothing imports app.
package app
