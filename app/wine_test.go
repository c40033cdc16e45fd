//go:build windows && wine

package app

import _ "unsafe" // go:linkname

// deleteatFallback: see licensecore/internal/winefix (internal to
// licensecore, so the app's tests turn the same switch themselves).
//
//go:linkname deleteatFallback internal/syscall/windows.TestDeleteatFallback
var deleteatFallback bool

func init() { deleteatFallback = true }

// underWine: these tests run under wine (the Windows lane).
const underWine = true
