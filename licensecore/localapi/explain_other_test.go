//go:build !linux

package localapi

// explain stands for the screens' wording where Fyne cannot be built (the
// Windows lane under wine, the macOS vet): the error's own text.
func explain(err error) string { return err.Error() }
