//go:build windows && wine

package winefix

import _ "unsafe" // go:linkname

// deleteatFallback is the standard library's switch that makes deletes use
// the FileDispositionInfo path, which wine implements (see doc.go).
//
//go:linkname deleteatFallback internal/syscall/windows.TestDeleteatFallback
var deleteatFallback bool

func init() { deleteatFallback = true }
