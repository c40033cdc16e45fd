package authority

// Chains of refresh tokens. An approval starts a chain bound to the DPoP
// key that redeemed the device code; each refresh spends a token of the
// chain and issues the next one. A Server ID has one live chain:
//
//   - a new approval for the device revokes the previous chain (moved), and
//     its PC is told where the license went;
//   - a spent token used again revokes the whole chain (RFC 9700 §4.14.2),
//     except the token the last rotation spent, presented with the chain's
//     key while the token that rotation issued has never been used: the
//     answer was lost on the way, not stolen (a thief of the token alone
//     has no key, see below). Within Options.RefreshGrace of the rotation
//     it gets the same answer again; later it gets a new pair and the
//     unused one is withdrawn, so a PC whose network failed right after the
//     authority answered recovers whenever it comes back. Once the new
//     token has been used, the spent one is a copy of this installation
//     (its key included) and the chain is revoked;
//   - a token presented with another key is refused (key_mismatch) and
//     changes nothing, so a thief of a refresh token alone can neither use
//     it nor get the chain revoked.

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"licensedesk/licensecore/wire"
)

// newChain describes the chain an approved device code starts.
func newChain(code codeRecord, jkt string, now time.Time) (chainRecord, error) {
	id, err := randomToken(16)
	if err != nil {
		return chainRecord{}, err
	}
	return chainRecord{ID: id, ServerID: code.ServerID, JKT: jkt, DeviceName: code.DeviceName,
		InstallCode: code.InstallCode, CreatedAt: now.UTC()}, nil
}

// startChain makes ch the device's live chain and revokes the one before,
// which now belongs to another PC.
func (s *Server) startChain(txn *badger.Txn, ch chainRecord, now time.Time) error {
	var live string
	switch err := getJSON(txn, pLive+ch.ServerID, &live); {
	case err == nil:
		var old chainRecord
		if err := getJSON(txn, pChain+live, &old); err == nil && old.Revoked == "" {
			old.MovedTo = orDefault(ch.DeviceName, "another PC")
			if err := s.revokeChain(txn, &old, wire.ReasonLicenseMoved, now); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, errNotFound) {
			return err
		}
	case !errors.Is(err, errNotFound):
		return err
	}
	if err := setJSON(txn, pChain+ch.ID, &ch, 0); err != nil {
		return err
	}
	if err := setJSON(txn, pKeyChain+ch.JKT+"/"+ch.ID, ch.ID, 0); err != nil {
		return err
	}
	return setJSON(txn, pLive+ch.ServerID, ch.ID, 0)
}

// revokeChain ends a chain for reason; its tokens are then answered with
// chainRefusal.
func (s *Server) revokeChain(txn *badger.Txn, ch *chainRecord, reason wire.Reason, now time.Time) error {
	ch.Revoked, ch.RevokedAt = reason, now.UTC()
	ev := s.log.Info() // a license moved to another PC is ordinary
	if reason == wire.ReasonChainRevoked {
		ev = s.log.Warn() // a spent token came back: a copy, or a stolen one
	}
	ev.Str("sub", ch.ServerID).Str("reason", string(reason)).Str("moved_to", ch.MovedTo).Msg("refresh token chain revoked")
	if err := setJSON(txn, pChain+ch.ID, ch, 0); err != nil {
		return err
	}
	detail := string(reason)
	if ch.MovedTo != "" {
		detail += ": moved to " + ch.MovedTo
	}
	if err := s.appendAudit(txn, AuditEntry{Actor: ActorAuthority, Action: AuditChainRevoked, Subject: ch.ServerID,
		Detail: detail + "; PC " + orDefault(ch.DeviceName, "unnamed") + ", install code " + orDefault(ch.InstallCode, "none")}); err != nil {
		return err
	}
	if err := txn.Delete([]byte(pGrace + ch.ID)); err != nil {
		return err
	}
	var live string
	if err := getJSON(txn, pLive+ch.ServerID, &live); err == nil && live == ch.ID {
		return txn.Delete([]byte(pLive + ch.ServerID))
	}
	return nil
}

// chainRefusal is the answer to every token of a revoked chain.
func chainRefusal(ch chainRecord) *oauthError {
	if ch.Revoked == wire.ReasonLicenseMoved {
		return withReason(wire.CodeInvalidGrant, wire.ReasonLicenseMoved,
			fmt.Sprintf("This license was moved to %s on %s", ch.MovedTo, ch.RevokedAt.UTC().Format("2 Jan 2006")))
	}
	return withReason(wire.CodeInvalidGrant, wire.ReasonChainRevoked,
		"a refresh token of this license was used twice, so all its tokens are revoked; authorize this PC again")
}

// chainHolder finds a refresh token and its chain and admits the request
// only from the chain's key and while the chain is live. A refusal comes
// back as the third result with a nil error.
func chainHolder(txn *badger.Txn, clientID, refresh, jkt string) (refreshRecord, chainRecord, *oauthError, error) {
	var rt refreshRecord
	var ch chainRecord
	if refresh == "" {
		return rt, ch, badRequest(wire.CodeInvalidRequest, "refresh_token is required"), nil
	}
	err := getJSON(txn, pRefresh+secretHash(refresh), &rt)
	if err == nil {
		err = getJSON(txn, pChain+rt.Chain, &ch)
	}
	switch {
	case errors.Is(err, errNotFound):
		return rt, ch, badRequest(wire.CodeInvalidGrant, "unknown refresh token"), nil
	case err != nil:
		return rt, ch, nil, err
	case rt.ClientID != clientID:
		return rt, ch, badRequest(wire.CodeInvalidGrant, "refresh token was issued to another client"), nil
	case jkt == "":
		return rt, ch, keyMismatch(wire.CodeInvalidGrant, "a DPoP proof made with the key the refresh token was issued to is required"), nil
	case jkt != rt.JKT:
		return rt, ch, keyMismatch(wire.CodeInvalidGrant, "the refresh token was issued to another key"), nil
	case ch.Revoked != "":
		return rt, ch, chainRefusal(ch), nil
	}
	return rt, ch, nil, nil
}

// redeemRefresh is the refresh_token grant: rotation, the grace window and
// reuse detection.
func (s *Server) redeemRefresh(clientID, refresh, jkt string) (*tokenResponse, *oauthError) {
	now := s.now()
	hash := secretHash(refresh)
	var resp *tokenResponse
	var denied *oauthError
	err := s.retryUpdate(func(txn *badger.Txn) error {
		resp, denied = nil, nil
		rt, ch, refused, err := chainHolder(txn, clientID, refresh, jkt)
		if refused != nil || err != nil {
			denied = refused
			return err
		}
		if rt.Used {
			lost, err := answerLost(txn, ch.ID, hash, jkt)
			switch {
			case err != nil:
				return err
			case lost != nil && now.Before(lost.Until):
				resp = lost.Answer // the answer of the rotation, once more
				return nil
			case lost == nil:
				denied = chainRefusal(chainRecord{Revoked: wire.ReasonChainRevoked})
				return s.revokeChain(txn, &ch, wire.ReasonChainRevoked, now)
			}
			// Past the grace window: withdraw the pair that never arrived
			// and rotate again from the token the client still holds.
			if err := txn.Delete([]byte(pRefresh + secretHash(lost.Answer.RefreshToken))); err != nil {
				return err
			}
			s.log.Info().Str("sub", rt.ServerID).Msg("refresh answer lost past the grace window: rotating again")
		}
		// The license's state is the more useful answer than the token's age.
		if _, _, refused, err := licensed(txn, rt.ServerID, now); refused != nil || err != nil {
			denied = refused
			return err
		}
		if !now.Before(rt.ExpiresAt) {
			denied = badRequest(wire.CodeInvalidGrant, "refresh token has expired")
			return nil
		}
		if resp, denied, err = s.issue(txn, rt.ServerID, clientID, grantRefresh, now, ch); err != nil || denied != nil {
			return err // a refused refresh leaves the token usable
		}
		rt.Used = true // rotation: the old token is spent
		if err := setJSON(txn, pRefresh+hash, &rt, rt.ExpiresAt.Sub(now)); err != nil {
			return err
		}
		// Kept as long as the spent token could come back.
		g := graceRecord{Spent: hash, JKT: jkt, Until: now.Add(s.opts.RefreshGrace).UTC(), Answer: resp}
		return setJSON(txn, pGrace+ch.ID, &g, rt.ExpiresAt.Sub(now))
	})
	if err != nil {
		s.log.Error().Err(err).Msg("refresh")
		return nil, errServer
	}
	return resp, denied
}

// answerLost is the chain's last rotation when the spent token presented
// (hash, from key jkt) is the one it spent and the token it issued has
// never been used: the client cannot have received that answer. Nil means
// the presentation is a replay.
func answerLost(txn *badger.Txn, chain, hash, jkt string) (*graceRecord, error) {
	var g graceRecord
	switch err := getJSON(txn, pGrace+chain, &g); {
	case errors.Is(err, errNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case g.Spent != hash || g.JKT != jkt || g.Answer == nil:
		return nil, nil
	}
	var next refreshRecord
	switch err := getJSON(txn, pRefresh+secretHash(g.Answer.RefreshToken), &next); {
	case errors.Is(err, errNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case next.Used:
		return nil, nil
	}
	return &g, nil
}

// retryUpdate runs fn in a transaction and runs it again when a concurrent
// transaction changed what it read: the second of two racing requests then
// sees the first one's outcome.
//
// The first try runs in parallel with everything else; the tries after a
// conflict run one at a time (retryMu). Many requests that write one key
// at once (the audit log's head, a busy device's live chain) would
// otherwise keep conflicting with each other's retries until each ran out
// of them, and answer 500; one at a time, a retry only conflicts with a
// first try that committed meanwhile.
func (s *Server) retryUpdate(fn func(txn *badger.Txn) error) error {
	err := s.db.Update(fn)
	if !errors.Is(err, badger.ErrConflict) {
		return err
	}
	s.retryMu.Lock()
	defer s.retryMu.Unlock()
	for range 50 {
		if err = s.db.Update(fn); !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}
