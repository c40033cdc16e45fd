package authority

// The audit log: every decision the authority makes on someone's behalf —
// a device approved or denied, a license change approved or denied, a
// license revoked or issued offline, a signing key rotated, a chain of
// refresh tokens revoked — as a hash chain. Each entry's hash covers its
// fields and the previous entry's hash, so editing, removing or reordering
// an entry breaks every hash after it (VerifyAudit says where).
//
// An entry is written in the same Badger transaction as the decision it
// records, so there is no decision without its entry and no entry without
// its decision. Two transactions appending at once both read the head; one
// of them conflicts and runs again (retryUpdate), which keeps the chain a
// single line.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"licensedesk/licensecore/internal/chainhash"

	"github.com/dgraph-io/badger/v4"
)

// Store keys of the audit log: entries by sequence number (8 bytes, big
// endian, so that they iterate in order) and the head.
const (
	pAudit     = "audit/"
	kAuditHead = "meta/audit-head"
)

// Audit actions.
const (
	AuditDeviceApproved = "device_approved"
	AuditDeviceDenied   = "device_denied"
	AuditSwitchApproved = "switch_approved"
	AuditSwitchDenied   = "switch_denied"
	AuditSwitchRefused  = "switch_refused" // an approval refused: the license expired
	AuditLicenseRevoked = "licence_revoked"
	AuditKeyRotated     = "key_rotated"
	AuditChainRevoked   = "chain_revoked"
	AuditOfflineIssued  = "offline_issued"
	AuditCustomer       = "customer_created"
)

// Actors that are not a person.
const (
	ActorAuthority = "authority" // the authority itself (a chain revoked on reuse)
	ActorCLI       = "cli"       // a maintenance subcommand or a method call
)

// AuditEntry is one line of the audit log. Hash covers every other field
// and Prev, the hash of the entry before (empty for the first).
type AuditEntry struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject,omitempty"` // a license, device, key or request id
	Detail  string    `json:"detail,omitempty"`
	Prev    string    `json:"prev"`
	Hash    string    `json:"hash"`
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// digest is the entry's hash: SHA-256 over the sequence number and every
// field, each length-prefixed so that no two entries share an encoding.
func (e *AuditEntry) digest() string {
	return chainhash.Digest(e.Seq, e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Detail, e.Prev)
}

func auditKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(pAudit), seq)
}

// appendAudit adds e to the chain inside txn; txn must be retried on a
// conflict (retryUpdate).
func (s *Server) appendAudit(txn *badger.Txn, e AuditEntry) error {
	var head auditHead
	if err := getJSON(txn, kAuditHead, &head); err != nil && !errors.Is(err, errNotFound) {
		return err
	}
	e.Seq, e.Time, e.Prev = head.Seq+1, s.now().UTC(), head.Hash
	e.Hash = e.digest()
	raw, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	if err := txn.Set(auditKey(e.Seq), raw); err != nil {
		return err
	}
	return setJSON(txn, kAuditHead, auditHead{Seq: e.Seq, Hash: e.Hash}, 0)
}

// audit records a decision that has no transaction of its own to join.
func (s *Server) audit(e AuditEntry) error {
	if err := s.retryUpdate(func(txn *badger.Txn) error { return s.appendAudit(txn, e) }); err != nil {
		return fmt.Errorf("authority: audit log: %w", err)
	}
	return nil
}

// scanAudit hands every entry to fn in order, checking the chain on the
// way: a broken link is ErrAuditBroken naming the entry.
func (s *Server) scanAudit(fn func(AuditEntry) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		var head auditHead
		if err := getJSON(txn, kAuditHead, &head); err != nil && !errors.Is(err, errNotFound) {
			return err
		}
		var prev AuditEntry
		err := scanJSON(txn, pAudit, func(e *AuditEntry) error {
			switch {
			case e.Seq != prev.Seq+1:
				return fmt.Errorf("%w: entry %d follows entry %d", ErrAuditBroken, e.Seq, prev.Seq)
			case e.Prev != prev.Hash:
				return fmt.Errorf("%w: entry %d does not link to entry %d", ErrAuditBroken, e.Seq, prev.Seq)
			case e.digest() != e.Hash:
				return fmt.Errorf("%w: entry %d was changed after it was written", ErrAuditBroken, e.Seq)
			}
			prev = *e
			return fn(*e)
		})
		if err == nil && (prev.Seq != head.Seq || prev.Hash != head.Hash) {
			err = fmt.Errorf("%w: the log ends at entry %d, its head says %d", ErrAuditBroken, prev.Seq, head.Seq)
		}
		return err
	})
}

// VerifyAudit checks the whole audit chain and returns how many entries
// it holds; a tampered log is ErrAuditBroken.
func (s *Server) VerifyAudit() (int, error) {
	n := 0
	err := s.guard(func() error { return s.scanAudit(func(AuditEntry) error { n++; return nil }) })
	return n, err
}

// ExportAudit writes the audit log as JSON lines, one AuditEntry each, in
// order. It checks the chain as it goes: on ErrAuditBroken the lines
// before the break have been written.
func (s *Server) ExportAudit(w io.Writer) error {
	return s.guard(func() error { return s.exportAudit(w) })
}

func (s *Server) exportAudit(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	err := s.scanAudit(func(e AuditEntry) error { return enc.Encode(&e) })
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// recentAudit returns the last n entries, newest first, and whether the
// chain verifies.
func (s *Server) recentAudit(n int) ([]AuditEntry, error) {
	var all []AuditEntry
	err := s.scanAudit(func(e AuditEntry) error {
		all = append(all, e)
		if len(all) > 2*n {
			all = append(all[:0], all[len(all)-n:]...)
		}
		return nil
	})
	if len(all) > n {
		all = all[len(all)-n:]
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, err
}
