// Package winefix makes Go's Windows test binaries clean up their temporary
// directories under wine 8, which the Windows lane runs them on. Go's
// os.RemoveAll deletes with FileDispositionInformationEx (POSIX semantics),
// which wine 8 answers with "Invalid function" rather than "not
// supported", so Go never takes its own fallback and every t.TempDir
// cleanup fails. Built with the wine tag (and -ldflags=-checklinkname=0),
// the package turns that fallback on; otherwise it is empty. Test code
// only: a blank import from each tested package's wine_test.go.
package winefix
