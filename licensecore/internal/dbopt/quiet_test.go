package dbopt

import (
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

// Each close of a store with data in its memtable adds a level-0 table;
// with no compactor goroutines only CompactIfNeeded merges them, and it
// must keep level 0 below the write stall however many restarts pass.
func TestQuietCompactsLevelZero(t *testing.T) {
	dir := t.TempDir()
	reopen := func(i int, compact bool) int {
		db, err := badger.Open(Quiet(dir, zerolog.Nop()))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if compact {
			if _, err := CompactIfNeeded(db); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Update(func(txn *badger.Txn) error {
			return txn.Set([]byte(fmt.Sprintf("k%03d", i)), []byte("value"))
		}); err != nil {
			t.Fatal(err)
		}
		return db.Levels()[0].NumTables
	}
	// Without the merge, level 0 only grows: the restarts alone would
	// reach the stall threshold.
	var l0 int
	for i := 0; i < 6; i++ {
		l0 = reopen(i, false)
	}
	if l0 < 5 {
		t.Fatalf("level 0 holds %d tables after 6 restarts without merging; the test cannot show the merge", l0)
	}
	opts := Quiet(dir, zerolog.Nop())
	for i := 6; i < 40; i++ {
		if l0 = reopen(i, true); l0 >= opts.NumLevelZeroTables {
			t.Fatalf("restart %d: level 0 holds %d tables after CompactIfNeeded (threshold %d)", i, l0, opts.NumLevelZeroTables)
		}
	}
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < 40; i++ {
		if err := db.View(func(txn *badger.Txn) error {
			_, err := txn.Get([]byte(fmt.Sprintf("k%03d", i)))
			return err
		}); err != nil {
			t.Errorf("key %d after the merges: %v", i, err)
		}
	}
}
