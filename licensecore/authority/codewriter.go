package authority

import (
	"time"

	"github.com/dgraph-io/badger/v4"
)

// maxCodeBatch bounds how many new device codes one group commit writes: a
// thousand take some 12 ms of a core to encrypt and index.
const maxCodeBatch = 512

// writeCodes stores new device codes in the background, in groups: the
// codes that arrive while one group is written go together in the next,
// one transaction and one sync for all of them.
//
// A device authorization does not wait for its code to reach the disk.
// Syncing each one before answering made every device wait behind the
// disk: with other work on the machine a sync takes 2 to 70 ms, and a
// flood of authorizations (the per-address limits admit some from every
// address) queued thousands of codes behind it, so that devices waited
// seconds for a code. What waiting bought was little: a pending code is
// worth nothing until a person approves it, and every state change after
// this one (approval, denial, redemption) writes the whole record and is
// durable before anyone is told. A clean shutdown writes the queue before
// the store closes (Close), so a restart keeps pending codes; only a crash
// within a group commit of an authorization forgets its code, and the
// device is then told its code is unknown and starts again.
//
// Each code's wmu is held from its snapshot until its group is durable, so
// a decision taken meanwhile lands after it, never under it.
func (s *Server) writeCodes() {
	defer s.wg.Done()
	batch := make([]*liveCode, 0, maxCodeBatch)
	for {
		select {
		case <-s.stop:
			// Close admits no more requests before it stops us: what is
			// queued now is all there will be.
			for s.takeQueued(&batch, len(s.codeQueue)) {
				s.writeBatch(batch)
				batch = batch[:0]
			}
			return
		case c := <-s.codeQueue:
			batch = append(batch, c)
		}
		s.takeQueued(&batch, maxCodeBatch)
		s.writeBatch(batch)
		batch = batch[:0]
	}
}

// takeQueued moves queued codes to batch, without waiting, until batch
// holds up to max of them; it reports whether batch holds any.
func (s *Server) takeQueued(batch *[]*liveCode, max int) bool {
	for len(*batch) < min(max, maxCodeBatch) {
		select {
		case c := <-s.codeQueue:
			*batch = append(*batch, c)
		default:
			return len(*batch) > 0
		}
	}
	return len(*batch) > 0
}

// writeBatch writes the current state of each code in one WriteBatch: a
// code's key is written by no transaction that reads it back, so the group
// needs no conflict detection. A failed write is logged and the codes stay
// in memory: they work until a restart, and a decision still stores them.
func (s *Server) writeBatch(batch []*liveCode) {
	if len(batch) == 0 {
		return
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var err error
	now := s.now()
	for _, c := range batch {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		s.codesMu.Lock()
		rec := c.rec
		s.codesMu.Unlock()
		var e *badger.Entry
		if e, err = codeEntry(&rec, now); err == nil {
			err = wb.SetEntry(e)
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		s.log.Error().Err(err).Int("codes", len(batch)).Msg("store new device codes")
	}
}

// codeEntry is the store entry of a device code record; Badger drops it
// once even a late poll no longer needs an answer.
func codeEntry(rec *codeRecord, now time.Time) (*badger.Entry, error) {
	return jsonEntry(pCode+rec.Hash, rec, rec.ExpiresAt.Sub(now)+codeRetention)
}
