package dbopt

import (
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

// Options are Badger options sized for a desktop (DESIGN.md §4): a
// few MiB of memory, small files, every write synced. The reference
// authority uses them too; the license store adds encryption.
func Options(dir string, log zerolog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(Logger{log.With().Str("component", "badger").Logger()}).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(1 << 20).
		WithNumCompactors(2).
		WithBlockCacheSize(4 << 20).
		WithIndexCacheSize(2 << 20).
		WithValueLogFileSize(16 << 20).
		WithSyncWrites(true)
}

// Quiet are Options for a store that sleeps between rare writes, as the
// license store does (a token refresh a day, an audit line now and then):
// no compactor goroutines, whose 50 ms tickers would wake an idle agent 40
// times a second. Whoever opens with them compacts level 0 itself
// (CompactIfNeeded) at open and on its maintenance timer; the stall
// threshold leaves room for many memtable flushes between two of those.
func Quiet(dir string, log zerolog.Logger) badger.Options {
	return Options(dir, log).
		WithNumCompactors(0).
		WithNumLevelZeroTablesStall(16)
}

// CompactIfNeeded merges the tables of a store opened with Quiet once
// level 0 holds NumLevelZeroTables of them (each memtable flush and each
// close adds one). It reports whether it compacted.
func CompactIfNeeded(db *badger.DB) (bool, error) {
	levels := db.Levels()
	if len(levels) == 0 || levels[0].NumTables < db.Opts().NumLevelZeroTables {
		return false, nil
	}
	return true, db.Flatten(1)
}

// Logger adapts zerolog to badger.Logger. Badger is chatty at Info,
// so its Info goes to Debug.
type Logger struct{ L zerolog.Logger }

// Errorf implements badger.Logger.
func (b Logger) Errorf(f string, a ...any) { b.L.Error().Msgf(strings.TrimSpace(f), a...) }

// Warningf implements badger.Logger.
func (b Logger) Warningf(f string, a ...any) { b.L.Warn().Msgf(strings.TrimSpace(f), a...) }

// Infof implements badger.Logger.
func (b Logger) Infof(f string, a ...any) { b.L.Debug().Msgf(strings.TrimSpace(f), a...) }

// Debugf implements badger.Logger.
func (b Logger) Debugf(f string, a ...any) { b.L.Trace().Msgf(strings.TrimSpace(f), a...) }
