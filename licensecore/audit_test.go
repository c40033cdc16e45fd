package licensecore

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

var auditKinds = []string{EventAcquired, EventVerified, EventRefreshed, EventClock, EventRejected, EventRemoved}

// appendAudit appends n entries and returns them.
func appendAudit(tb testing.TB, s *Store, n int) []AuditEntry {
	tb.Helper()
	out := make([]AuditEntry, 0, n)
	for i := range n {
		e, err := s.AppendAudit(auditKinds[i%len(auditKinds)], fmt.Sprintf("entry %d", i+1), t0.Add(time.Duration(i)*time.Minute))
		mustNil(tb, err)
		out = append(out, e)
	}
	return out
}

func TestAuditAppendAndVerify(t *testing.T) {
	s := newTestStore(t)
	written := appendAudit(t, s, 5)
	mustNil(t, s.VerifyAudit())

	s = reopen(t, s) // the chain continues across a restart
	more, err := s.AppendAudit(EventRemoved, "after restart", t0.Add(time.Hour))
	mustNil(t, err)
	written = append(written, more)
	mustNil(t, s.VerifyAudit())

	got, err := s.AuditLog()
	mustNil(t, err)
	if len(got) != len(written) {
		t.Fatalf("AuditLog has %d entries, want %d", len(got), len(written))
	}
	prev := ""
	for i, e := range got {
		w := written[i]
		if e.Seq != uint64(i+1) || e.Kind != w.Kind || e.Detail != w.Detail || !e.Time.Equal(w.Time) || e.Hash != w.Hash {
			t.Errorf("entry %d = %+v, want %+v", i+1, e, w)
		}
		if e.Prev != prev || e.Hash == "" || e.Hash == prev {
			t.Errorf("entry %d does not chain to the one before", e.Seq)
		}
		prev = e.Hash
	}
}

// rewriteEntry edits one stored entry through a raw transaction, as
// somebody with the key file and a Badger tool could.
func rewriteEntry(t *testing.T, s *Store, seq uint64, fn func(*AuditEntry)) {
	t.Helper()
	mustNil(t, s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(auditKey(seq))
		if err != nil {
			return err
		}
		var e AuditEntry
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
			return err
		}
		fn(&e)
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return txn.Set(auditKey(seq), raw)
	}))
}

func rawAudit(t *testing.T, s *Store, fn func(txn *badger.Txn) error) {
	t.Helper()
	mustNil(t, s.db.Update(fn))
}

func TestAuditTampering(t *testing.T) {
	const n = 5
	cases := []struct {
		name   string
		tamper func(t *testing.T, s *Store)
	}{
		{"middle entry deleted", func(t *testing.T, s *Store) {
			rawAudit(t, s, func(txn *badger.Txn) error { return txn.Delete(auditKey(3)) })
		}},
		{"first entry deleted", func(t *testing.T, s *Store) {
			rawAudit(t, s, func(txn *badger.Txn) error { return txn.Delete(auditKey(1)) })
		}},
		{"detail edited", func(t *testing.T, s *Store) {
			rewriteEntry(t, s, 3, func(e *AuditEntry) { e.Detail = "nothing happened" })
		}},
		{"detail edited and its hash recomputed", func(t *testing.T, s *Store) {
			rewriteEntry(t, s, 3, func(e *AuditEntry) { e.Detail = "nothing happened"; e.Hash = e.digest() })
		}},
		{"kind edited", func(t *testing.T, s *Store) {
			rewriteEntry(t, s, 2, func(e *AuditEntry) { e.Kind = EventVerified + "x" })
		}},
		{"time edited", func(t *testing.T, s *Store) {
			rewriteEntry(t, s, 4, func(e *AuditEntry) { e.Time = e.Time.Add(-time.Hour) })
		}},
		{"sequence edited", func(t *testing.T, s *Store) {
			rewriteEntry(t, s, 2, func(e *AuditEntry) { e.Seq = 7 })
		}},
		{"entries 2 and 3 swapped", func(t *testing.T, s *Store) {
			rawAudit(t, s, func(txn *badger.Txn) error { return swapValues(txn, auditKey(2), auditKey(3)) })
		}},
		{"tail cut off", func(t *testing.T, s *Store) {
			rawAudit(t, s, func(txn *badger.Txn) error {
				if err := txn.Delete(auditKey(n)); err != nil {
					return err
				}
				return txn.Delete(auditKey(n - 1))
			})
		}},
		{"entry forged past the head", func(t *testing.T, s *Store) {
			rawAudit(t, s, func(txn *badger.Txn) error {
				head, err := readAuditHead(txn)
				if err != nil {
					return err
				}
				e := AuditEntry{Seq: head.Seq + 1, Time: t0, Kind: EventAcquired, Prev: head.Hash}
				e.Hash = e.digest()
				raw, _ := json.Marshal(e)
				return txn.Set(auditKey(e.Seq), raw)
			})
		}},
		{"entry not JSON", func(t *testing.T, s *Store) {
			rawAudit(t, s, func(txn *badger.Txn) error { return txn.Set(auditKey(2), []byte("{garbage")) })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			appendAudit(t, s, n)
			mustNil(t, s.VerifyAudit())
			tc.tamper(t, s)
			if err := s.VerifyAudit(); !errors.Is(err, ErrAuditTampered) {
				t.Errorf("VerifyAudit = %v, want ErrAuditTampered", err)
			}
		})
	}
}

func swapValues(txn *badger.Txn, a, b []byte) error {
	get := func(k []byte) ([]byte, error) {
		item, err := txn.Get(k)
		if err != nil {
			return nil, err
		}
		return item.ValueCopy(nil)
	}
	va, err := get(a)
	if err != nil {
		return err
	}
	vb, err := get(b)
	if err != nil {
		return err
	}
	if err := txn.Set(a, vb); err != nil {
		return err
	}
	return txn.Set(b, va)
}

// The digest length-prefixes fields, so moving text between them changes
// the hash.
func TestAuditDigestSeparatesFields(t *testing.T) {
	a := AuditEntry{Seq: 1, Time: t0, Kind: "ab", Detail: "c"}
	b := AuditEntry{Seq: 1, Time: t0, Kind: "a", Detail: "bc"}
	if a.digest() == b.digest() {
		t.Error("moving a character from Kind to Detail kept the digest")
	}
}

func TestAuditConcurrentAppends(t *testing.T) {
	s := newTestStore(t)
	const writers, each = 4, 5
	errs := make(chan error, writers*each)
	for w := range writers {
		go func() {
			for i := range each {
				_, err := s.AppendAudit(EventVerified, fmt.Sprintf("w%d-%d", w, i), t0)
				errs <- err
			}
		}()
	}
	for range writers * each {
		mustNil(t, <-errs)
	}
	mustNil(t, s.VerifyAudit())
	if log, _ := s.AuditLog(); len(log) != writers*each {
		t.Errorf("%d entries, want %d", len(log), writers*each)
	}
}
