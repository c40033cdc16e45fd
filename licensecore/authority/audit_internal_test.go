package authority

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

// TestAuditTamper: changing an entry's words, removing an entry or
// removing the newest entry each break the chain, and VerifyAudit and the
// export say so.
func TestAuditTamper(t *testing.T) {
	cases := map[string]func(txn *badger.Txn, e *AuditEntry) error{
		"edited": func(txn *badger.Txn, e *AuditEntry) error {
			e.Actor = "someone else"
			raw, _ := json.Marshal(e)
			return txn.Set(auditKey(e.Seq), raw)
		},
		"removed": func(txn *badger.Txn, e *AuditEntry) error { return txn.Delete(auditKey(e.Seq)) },
		"rehashed": func(txn *badger.Txn, e *AuditEntry) error { // edited and hashed again: the next link breaks
			e.Detail = "nothing happened"
			e.Hash = e.digest()
			raw, _ := json.Marshal(e)
			return txn.Set(auditKey(e.Seq), raw)
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{DataDir: filepath.Join(dir, "data"), Issuer: "http://127.0.0.1:1", Logger: zerolog.Nop(),
				Argon2: Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for range 3 {
				if err := s.RotateKey(); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := s.VerifyAudit(); n != 3 || err != nil {
				t.Fatalf("before: %d entries, %v", n, err)
			}
			err = s.db.Update(func(txn *badger.Txn) error {
				var e AuditEntry
				if err := getJSON(txn, string(auditKey(2)), &e); err != nil {
					return err
				}
				return tamper(txn, &e)
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.VerifyAudit(); !errors.Is(err, ErrAuditBroken) {
				t.Fatalf("VerifyAudit after the entry was %s: %v", name, err)
			}
			if err := s.ExportAudit(new(jsonDiscard)); !errors.Is(err, ErrAuditBroken) {
				t.Fatalf("ExportAudit after the entry was %s: %v", name, err)
			}
		})
	}
}

type jsonDiscard struct{}

func (jsonDiscard) Write(p []byte) (int, error) { return len(p), nil }
