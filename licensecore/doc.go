// Package licensecore is License Desk's licensing domain, free of Fyne so
// the same code serves the desktop app, its command line and the registers
// and peer servers that verify tokens offline. It returns facts; the screens
// package words them.
//
//   - Manager (manager.go, lifecycle.go, offline.go) is the license
//     aggregate: acquisition by the device flow, refresh, status, online
//     verification, download, removal, the perpetual/subscription switch and
//     offline activation (challenge/response, license files).
//   - Admins (admins.go) owns the administrator accounts, their sessions and
//     the login throttle; Manager and Pool ask it to Check a session.
//   - Pool (pool.go, account.go) owns the customer account and the cloud
//     pool of licenses (activate, transfer back, reconcile).
//   - Client (client.go) is the only HTTP code and the one decoder of the
//     authority's error answers; Verifier (token.go) checks license tokens
//     strictly; TrustedClock (clock.go) never lets a clock set backwards
//     revive a token, and follows the authority's signed time; Store (store.go) is the encrypted Badger store with
//     schema migrations; its key and the installation's signing key live
//     in Secrets (secrets.go: the OS credential store, or a file sealed to
//     the PC); audit.go is the hash-chained audit log;
//     Evaluate (status.go) and DueNotices (notices.go) are pure.
//   - errors.go holds every sentinel of the package.
//
// What crosses the wire or a file to the authority is in licensecore/wire.
// I/O methods take a context first and block; the only goroutine the
// package starts is the store's value-log GC, stopped by Store.Close.
package licensecore
