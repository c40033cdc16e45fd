package licensecore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"licensedesk/licensecore/internal/chainhash"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

// Audit event kinds.
const (
	EventAcquired  = "acquired"
	EventRefreshed = "refreshed"
	EventVerified  = "verified"
	EventRemoved   = "removed"
	EventRejected  = "rejected"
	EventClock     = "clock_error"
	// EventAuthorityChanged and EventRootRepinned: an administrator changed
	// the trust anchor.
	EventAuthorityChanged = "authority_changed"
	EventRootRepinned     = "root_repinned"
)

// AuditEntry is one license event. Hash covers every other field and the
// previous entry's hash, so removing or editing an entry breaks the chain.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
	Prev   string    `json:"prev"`
	Hash   string    `json:"hash"`
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func (e AuditEntry) digest() string {
	return chainhash.Digest(e.Seq, e.Time.UTC().Format(time.RFC3339Nano), e.Kind, e.Detail, e.Prev)
}

func auditKey(seq uint64) []byte {
	k := make([]byte, len(prefixAudit)+8)
	copy(k, prefixAudit)
	binary.BigEndian.PutUint64(k[len(prefixAudit):], seq)
	return k
}

// AppendAudit adds an event to the log. Never put secrets in detail.
func (s *Store) AppendAudit(kind, detail string, at time.Time) (AuditEntry, error) {
	s.audit.Lock()
	defer s.audit.Unlock()
	var e AuditEntry
	err := s.update(func(txn *badger.Txn) error {
		head, err := readAuditHead(txn)
		if err != nil {
			return err
		}
		e = AuditEntry{Seq: head.Seq + 1, Time: at.UTC(), Kind: kind, Detail: detail, Prev: head.Hash}
		e.Hash = e.digest()
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := txn.Set(auditKey(e.Seq), raw); err != nil {
			return err
		}
		hraw, err := json.Marshal(auditHead{Seq: e.Seq, Hash: e.Hash})
		if err != nil {
			return err
		}
		return txn.Set([]byte(keyAuditTop), hraw)
	})
	return e, err
}

func readAuditHead(txn *badger.Txn) (auditHead, error) {
	var h auditHead
	item, err := txn.Get([]byte(keyAuditTop))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, &h) })
	if err != nil {
		return h, fmt.Errorf("%w: audit head: %v", ErrStoreCorrupt, err)
	}
	return h, nil
}

// AuditLog returns every entry in order.
func (s *Store) AuditLog() ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64, Prefix: []byte(prefixAudit)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var e AuditEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("%w: entry %x: %v", ErrAuditTampered, it.Item().Key(), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// VerifyAudit walks the chain and returns ErrAuditTampered (wrapped with the
// sequence number) if an entry was removed, edited, reordered or the tail
// cut off.
func (s *Store) VerifyAudit() error {
	entries, err := s.AuditLog()
	if err != nil {
		return err
	}
	var head auditHead
	if err := s.view(func(txn *badger.Txn) error {
		var err error
		head, err = readAuditHead(txn)
		return err
	}); err != nil {
		return err
	}
	return verifyChain(entries, head)
}

func verifyChain(entries []AuditEntry, head auditHead) error {
	prev := ""
	for i, e := range entries {
		if e.Seq != uint64(i+1) {
			return fmt.Errorf("%w: entry %d is missing", ErrAuditTampered, i+1)
		}
		if e.Prev != prev {
			return fmt.Errorf("%w: entry %d does not follow entry %d", ErrAuditTampered, e.Seq, e.Seq-1)
		}
		if e.digest() != e.Hash {
			return fmt.Errorf("%w: entry %d was edited", ErrAuditTampered, e.Seq)
		}
		prev = e.Hash
	}
	if head.Seq != uint64(len(entries)) || head.Hash != prev {
		return fmt.Errorf("%w: the log ends at entry %d but %d were written", ErrAuditTampered, len(entries), head.Seq)
	}
	return nil
}

// auditor appends license events to the audit log for Manager, Admins and
// Pool. A failed append is logged, not returned: the event it records has
// already happened and must not be undone for want of a log line.
type auditor struct {
	store *Store
	clock *TrustedClock
	log   zerolog.Logger
}

func (a auditor) record(kind, detail string) {
	if _, err := a.store.AppendAudit(kind, detail, a.clock.Now()); err != nil {
		a.log.Warn().Err(err).Str("event", kind).Msg("audit append failed")
	}
}
