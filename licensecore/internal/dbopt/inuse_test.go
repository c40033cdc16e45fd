package dbopt

import (
	"errors"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

// TestInUse opens one directory twice: Badger's own lock refuses the second
// open (in this process as in another), and InUse must recognize it on this
// platform, and nothing else.
func TestInUse(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(Options(dir, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	second, err := badger.Open(Options(dir, zerolog.Nop()))
	if err == nil {
		second.Close()
		t.Fatal("a second open of a held directory succeeded")
	}
	if !InUse(err) {
		t.Errorf("InUse(%q) = false", err)
	}
	for _, other := range []error{errors.New("checksum mismatch"), badger.ErrEncryptionKeyMismatch} {
		if InUse(other) {
			t.Errorf("InUse(%q) = true", other)
		}
	}
}
