//go:build windows

package licensecore

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// replaceBusy reports whether a replace or read failed only because
// another process had the file open at that moment: Windows refuses to
// rename over a file a reader holds, and a reader cannot open a file
// while it is being renamed over. Both pass within milliseconds.
func replaceBusy(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED)
}

// openShared opens path for reading with FILE_SHARE_DELETE too, which
// os.Open leaves out: a writer may then rename a new version over the
// file while it is being read, as it may on Unix.
func openShared(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
