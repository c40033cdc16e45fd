//go:build linux

// The screens' interfaces need Fyne, which the Windows lane (wine, no cgo)
// and the macOS vet cannot build; Linux checks them.

package localapi_test

import (
	"licensedesk/licensecore/localapi"
	"licensedesk/screens"
)

// The window uses the client in place of the in-process Manager and Pool.
var (
	_ screens.LicenseService   = (*localapi.Client)(nil)
	_ screens.LifecycleService = (*localapi.Client)(nil)
	_ screens.OfflineService   = (*localapi.Client)(nil)
	_ screens.AdminService     = (*localapi.Client)(nil)
	_ screens.AccountService   = (*localapi.Client)(nil)
	_ screens.PoolService      = (*localapi.Client)(nil)
)
