//go:build windows

package licensecore

import (
	"bytes"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has no POSIX file modes: a file in %LOCALAPPDATA% or %ProgramData%
// is guarded by the folder's ACL only. So what License Desk writes to a
// file that must stay on this PC (the secrets file, the store key file) is
// sealed with DPAPI for the Windows account that runs License Desk (the
// user, or LocalSystem for the agent service): another account, or a copy
// on another PC, cannot open it.
var (
	dpapiMagic   = []byte("LDDPAPI1\n")
	dpapiEntropy = []byte("licensedesk local file v1")
)

func blobOf(b []byte) *windows.DataBlob {
	if len(b) == 0 {
		return &windows.DataBlob{}
	}
	return &windows.DataBlob{Size: uint32(len(b)), Data: &b[0]}
}

// takeBlob copies out's bytes and frees the buffer DPAPI allocated.
func takeBlob(out *windows.DataBlob) []byte {
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return bytes.Clone(unsafe.Slice(out.Data, out.Size))
}

// sealLocal returns dpapiMagic and b sealed with CryptProtectData.
func sealLocal(b []byte) ([]byte, error) {
	var out windows.DataBlob
	err := windows.CryptProtectData(blobOf(b), nil, blobOf(dpapiEntropy), 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out)
	if err != nil {
		return nil, fmt.Errorf("DPAPI: %w", err)
	}
	return append(bytes.Clone(dpapiMagic), takeBlob(&out)...), nil
}

// openLocal reverses sealLocal. Bytes without dpapiMagic are returned as
// they are: a file written before sealing, or by hand.
func openLocal(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, dpapiMagic) {
		return b, nil
	}
	var out windows.DataBlob
	err := windows.CryptUnprotectData(blobOf(b[len(dpapiMagic):]), nil, blobOf(dpapiEntropy), 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out)
	if err != nil {
		return nil, fmt.Errorf("DPAPI: sealed for another Windows account or PC, or damaged: %w", err)
	}
	return takeBlob(&out), nil
}
