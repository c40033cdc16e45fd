package licensecore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"licensedesk/licensecore/wire"
)

// The cloud pool: licenses a customer owns at the authority, which a server
// activates (they count here and leave the pool) and transfers back. The
// wire protocol is described in poolwire.go; the local half is:
//
//   - before a request leaves, its signed envelope is stored under its
//     request id (pool/op/…); the answer is applied and the op deleted in
//     one transaction; a lost answer leaves the op, and ReconcilePool (or
//     the next pool call) sends the same envelope again, which the
//     authority answers the same way;
//   - a transfer first marks the activation "returning" (it no longer
//     counts) together with its stored receipt, and only then sends it:
//     there is no way back to active, so a license is never usable in two
//     places.

// ActivationState is the local state of an activated pool license.
type ActivationState string

// Activation states.
const (
	ActivationActive    ActivationState = "active"    // counts on this server
	ActivationReturning ActivationState = "returning" // receipt stored, not yet confirmed; does not count
)

// ActivatedLicense is a pool license activated on this server.
type ActivatedLicense struct {
	wire.PoolLicense
	ActivationID string          `json:"activation_id"`
	ActivatedAt  time.Time       `json:"activated_at"`
	State        ActivationState `json:"state"`
}

// PoolTotals is what the active pool licenses add up to: capacity
// licenses add their devices, maintenance runs to the latest end date.
type PoolTotals struct {
	Devices          int       `json:"devices"`
	MaintenanceUntil time.Time `json:"maintenance_until,omitzero"` // zero without a maintenance license
	Licenses         int       `json:"licences"`
}

// TransferResult is the outcome of TransferToPool.
type TransferResult struct {
	// Returned are back in the pool, confirmed by the authority.
	Returned []string `json:"returned"`
	// Pending no longer count here; their signed receipts are stored and
	// ReconcilePool delivers them.
	Pending []string `json:"pending"`
	// Dropped were not held by this server at the authority any more.
	Dropped []string   `json:"dropped"`
	Before  PoolTotals `json:"before"`
	After   PoolTotals `json:"after"`
}

// Audit events of the account and the pool.
const (
	EventCustomerSet   = "customer_set"
	EventPoolActivated = "pool_activated"
	EventPoolReturned  = "pool_returned"
	EventPoolWithdrawn = "pool_withdrawn" // the authority no longer counts it here
	EventPoolAdopted   = "pool_adopted"   // the authority counts it here; recorded again
)

// Store keys of the pool.
const (
	prefixActivated = "pool/act/" // license ID → ActivatedLicense
	prefixPoolOp    = "pool/op/"  // request ID → poolOp
)

// poolSettleTimeout bounds how long a cancelled activation waits to learn
// the outcome of the request that was in flight.
const poolSettleTimeout = 10 * time.Second

// Pool owns the customer account and the cloud pool of this server. Its
// one lock serialises pool operations; it asks the Manager for the
// authority in force and the license's device name, and Admins to check a
// session.
type Pool struct {
	mgr    *Manager
	store  *Store
	clock  *TrustedClock
	admins *Admins
	audit  auditor
	log    zerolog.Logger

	mu sync.Mutex // one pool operation at a time
}

// NewPool builds the customer account and cloud pool over m's store,
// guarded by m's administrators.
func NewPool(m *Manager) *Pool {
	return &Pool{mgr: m, store: m.store, clock: m.clock, admins: m.admins, audit: m.audit, log: m.log}
}

// poolOp is a request that may have reached the authority.
type poolOp struct {
	Kind      string    `json:"kind"` // PoolOpActivate or PoolOpTransfer
	RequestID string    `json:"request_id"`
	LicenseID string    `json:"licence_id"`
	Envelope  []byte    `json:"envelope"` // sent again, signed afresh (fresh)
	Created   time.Time `json:"created"`
}

// poolIdent is who signs: the customer, this installation and its key.
type poolIdent struct {
	customer, install, server string
	key                       ed25519.PrivateKey
}

// poolIdent needs p.mu.
func (p *Pool) poolIdent() (poolIdent, error) {
	a, err := p.Account()
	if err != nil {
		return poolIdent{}, err
	}
	if a.CustomerID == "" {
		return poolIdent{}, ErrNoCustomerID
	}
	key, err := p.installKey()
	if err != nil {
		return poolIdent{}, err
	}
	return poolIdent{customer: a.CustomerID, install: a.InstallCode, server: a.ServerName, key: key}, nil
}

func (id poolIdent) sign(op, licenseID, activationID, requestID string, now time.Time) ([]byte, error) {
	return wire.SignPoolRequest(id.key, wire.PoolRequest{
		Op: op, CustomerID: id.customer, InstallCode: id.install, ServerName: id.server,
		RequestID: requestID, LicenseID: licenseID, ActivationID: activationID, IssuedAt: now.UTC(),
	})
}

func newRequestID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// PoolLicenses lists the licenses available in the customer's cloud pool.
// It first finishes any pool operation a crash or lost answer left open.
func (p *Pool) PoolLicenses(ctx context.Context) ([]wire.PoolLicense, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reconcilePending(ctx); err != nil {
		return nil, err
	}
	id, err := p.poolIdent()
	if err != nil {
		return nil, err
	}
	env, err := id.sign(wire.PoolOpList, "", "", "", p.clock.Now())
	if err != nil {
		return nil, err
	}
	c := p.mgr.Client()
	raw, err := c.PoolPost(ctx, wire.PoolOpList, env, nil)
	if err != nil {
		return nil, err
	}
	list, err := wire.ParsePoolList(raw)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b wire.PoolLicense) int { return strings.Compare(a.ID, b.ID) })
	return list, nil
}

// ActivatePool activates the pool licenses ids on this server, one request
// each, calling progress (if not nil) after each. It needs an
// administrator. A license another server took first fails alone (a
// *PoolLicenseError wrapping ErrPoolLicenseUnavailable, joined into the
// error) and the others go on; an unreachable authority stops the batch.
// Cancelling ctx stops after the license in flight, whose outcome is
// settled first: what was activated is recorded, nothing is half done.
func (p *Pool) ActivatePool(ctx context.Context, sess *AdminSession, ids []string, progress func(done, total int)) ([]ActivatedLicense, error) {
	if err := p.admins.Check(sess); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	for i, id := range ids {
		if !wire.ValidID(id) || slices.Contains(ids[:i], id) {
			return nil, fmt.Errorf("%w: %q is not a license ID or is listed twice", ErrPoolRefused, id)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reconcilePending(ctx); err != nil {
		return nil, err
	}
	ident, err := p.poolIdent()
	if err != nil {
		return nil, err
	}
	var done []ActivatedLicense
	var refused []error
	for i, lid := range ids {
		if err := ctx.Err(); err != nil {
			return done, errors.Join(append(refused, err)...)
		}
		a, err := p.activateOne(ctx, ident, lid)
		if a != nil {
			done = append(done, *a)
		}
		var one *PoolLicenseError
		switch {
		case errors.As(err, &one):
			refused = append(refused, err)
		case err != nil:
			return done, errors.Join(append(refused, err)...)
		}
		if progress != nil {
			progress(i+1, len(ids))
		}
	}
	return done, errors.Join(refused...)
}

// activateOne stores the op, sends it, and applies the answer.
func (p *Pool) activateOne(ctx context.Context, ident poolIdent, lid string) (*ActivatedLicense, error) {
	rid, err := newRequestID()
	if err != nil {
		return nil, err
	}
	now := p.clock.Now()
	env, err := ident.sign(wire.PoolOpActivate, lid, "", rid, now)
	if err != nil {
		return nil, err
	}
	op := poolOp{Kind: wire.PoolOpActivate, RequestID: rid, LicenseID: lid, Envelope: env, Created: now}
	if err := p.store.putJSON(prefixPoolOp+rid, op); err != nil {
		return nil, err
	}
	a, err := p.runOp(ctx, op)
	if err != nil && ctx.Err() != nil && !definitive(err) {
		// Cancelled with the request in flight: it may have been applied.
		// Ask again with the same request id so the caller's cancel
		// leaves nothing in doubt; if even that fails the op stays for
		// ReconcilePool.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), poolSettleTimeout)
		a, err = p.runOp(sctx, op)
		cancel()
		if err == nil {
			err = ctx.Err()
		}
	}
	return a, err
}

// TransferToPool returns activated licenses to the cloud pool (ids nil:
// all of them). It needs an administrator; show TransferImpact first. Each
// license stops counting here, durably and with its signed receipt, before
// the receipt is sent; receipts the authority has not confirmed (offline,
// cancelled) are listed as Pending and delivered by ReconcilePool.
func (p *Pool) TransferToPool(ctx context.Context, sess *AdminSession, ids []string) (TransferResult, error) {
	var res TransferResult
	if err := p.admins.Check(sess); err != nil {
		return res, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Deliver earlier receipts first; offline is no reason not to return
	// licenses locally, so that error waits.
	pendingErr := p.reconcilePending(ctx)
	all, err := p.ActivatedLicenses()
	if err != nil {
		return res, err
	}
	chosen, err := chooseActive(all, ids)
	if err != nil {
		return res, err
	}
	res.Before = totals(all)
	if len(chosen) == 0 {
		res.After = res.Before
		return res, pendingErr
	}
	ident, err := p.poolIdent()
	if err != nil {
		return res, err
	}
	now := p.clock.Now()
	ops := make([]poolOp, 0, len(chosen))
	for _, a := range chosen {
		rid, err := newRequestID()
		if err != nil {
			return res, err
		}
		env, err := ident.sign(wire.PoolOpTransfer, a.ID, a.ActivationID, rid, now)
		if err != nil {
			return res, err
		}
		ops = append(ops, poolOp{Kind: wire.PoolOpTransfer, RequestID: rid, LicenseID: a.ID, Envelope: env, Created: now})
	}
	// One transaction: every chosen license stops counting, with its receipt.
	err = p.store.update(func(txn *badger.Txn) error {
		for i, a := range chosen {
			a.State = ActivationReturning
			if err := setJSONTxn(txn, prefixActivated+a.ID, a); err != nil {
				return err
			}
			if err := setJSONTxn(txn, prefixPoolOp+ops[i].RequestID, ops[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	var sendErr error
	for _, op := range ops {
		if sendErr != nil {
			res.Pending = append(res.Pending, op.LicenseID)
			continue
		}
		_, err := p.runOp(ctx, op)
		var one *PoolLicenseError
		switch {
		case err == nil:
			res.Returned = append(res.Returned, op.LicenseID)
		case errors.As(err, &one):
			res.Dropped = append(res.Dropped, op.LicenseID)
		default:
			sendErr = err
			res.Pending = append(res.Pending, op.LicenseID)
		}
	}
	if after, err := p.ActivatedLicenses(); err == nil {
		res.After = totals(after)
	}
	if sendErr == nil {
		sendErr = pendingErr
	}
	return res, sendErr
}

// chooseActive picks the active licenses named by ids (nil: all).
func chooseActive(all []ActivatedLicense, ids []string) ([]ActivatedLicense, error) {
	var out []ActivatedLicense
	if ids == nil {
		for _, a := range all {
			if a.State == ActivationActive {
				out = append(out, a)
			}
		}
		return out, nil
	}
	for i, id := range ids {
		k := slices.IndexFunc(all, func(a ActivatedLicense) bool { return a.ID == id })
		if k < 0 || all[k].State != ActivationActive || slices.Contains(ids[:i], id) {
			return nil, &PoolLicenseError{LicenseID: id, Err: ErrNotActivated}
		}
		out = append(out, all[k])
	}
	return out, nil
}

// ReconcilePool settles every pool operation a crash or a lost answer left
// open, then makes the local record agree with the authority's: a license
// the authority no longer counts here is dropped, one it counts here but
// the store lacks is recorded. The app calls it at start-up; every pool
// call also settles open operations first.
func (p *Pool) ReconcilePool(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reconcilePending(ctx); err != nil {
		return err
	}
	ident, err := p.poolIdent()
	if errors.Is(err, ErrNoCustomerID) {
		return nil
	}
	if err != nil {
		return err
	}
	env, err := ident.sign(wire.PoolOpHeld, "", "", "", p.clock.Now())
	if err != nil {
		return err
	}
	c := p.mgr.Client()
	raw, err := c.PoolPost(ctx, wire.PoolOpHeld, env, nil)
	if err != nil {
		return err
	}
	held, err := wire.ParseHeld(raw)
	if err != nil {
		return err
	}
	local, err := p.ActivatedLicenses()
	if err != nil {
		return err
	}
	for _, a := range local {
		if a.State == ActivationActive && !slices.ContainsFunc(held, func(h wire.PoolActivation) bool {
			return h.License.ID == a.ID && h.ActivationID == a.ActivationID
		}) {
			if err := p.store.delete(prefixActivated + a.ID); err != nil {
				return err
			}
			p.audit.record(EventPoolWithdrawn, fmt.Sprintf("license %s (%s), activation %s", a.ID, grant(a.PoolLicense), a.ActivationID))
		}
	}
	for _, h := range held {
		if slices.ContainsFunc(local, func(a ActivatedLicense) bool {
			return a.ID == h.License.ID && a.ActivationID == h.ActivationID
		}) {
			continue
		}
		a := ActivatedLicense{PoolLicense: h.License, ActivationID: h.ActivationID, ActivatedAt: h.ActivatedAt, State: ActivationActive}
		if err := p.store.putJSON(prefixActivated+a.ID, a); err != nil {
			return err
		}
		p.audit.record(EventPoolAdopted, fmt.Sprintf("license %s (%s), activation %s", a.ID, grant(a.PoolLicense), a.ActivationID))
	}
	return nil
}

// reconcilePending sends every stored op again. An unreachable authority
// stops it; refusals settle their op. The caller holds p.mu.
func (p *Pool) reconcilePending(ctx context.Context) error {
	var ops []poolOp
	err := p.store.scan(prefixPoolOp, func(key string, val []byte) error {
		var op poolOp
		if err := json.Unmarshal(val, &op); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrStoreCorrupt, key, err)
		}
		ops = append(ops, op)
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(ops, func(a, b poolOp) int { return a.Created.Compare(b.Created) })
	var stuck []error
	for _, op := range ops {
		_, err := p.runOp(ctx, op)
		var one *PoolLicenseError
		switch {
		case err == nil, errors.As(err, &one):
			p.log.Info().Str("op", op.Kind).Str("license", op.LicenseID).AnErr("outcome", err).Msg("pending pool operation settled")
		case definitive(err):
			stuck = append(stuck, &PoolLicenseError{LicenseID: op.LicenseID, Err: err})
		default:
			return err
		}
	}
	return errors.Join(stuck...)
}

// runOp sends a stored op and applies the answer. A *PoolLicenseError
// means the op is settled without effect on this server (the license was
// not available, or was no longer held here); any other error leaves the
// op stored for a retry.
func (p *Pool) runOp(ctx context.Context, op poolOp) (*ActivatedLicense, error) {
	c := p.mgr.Client()
	var err error
	if op.Envelope, err = p.fresh(op.Envelope); err != nil {
		return nil, err
	}
	switch op.Kind {
	case wire.PoolOpActivate:
		var ans wire.PoolActivation
		if _, err := c.PoolPost(ctx, op.Kind, op.Envelope, &ans); err != nil {
			if definitive(err) {
				// Refused: nothing changed at the authority.
				if derr := p.store.delete(prefixPoolOp + op.RequestID); derr != nil {
					return nil, derr
				}
				return nil, &PoolLicenseError{LicenseID: op.LicenseID, Err: err}
			}
			return nil, err
		}
		ans, err := wire.ParseActivation(ans)
		if err != nil {
			return nil, err
		}
		if ans.License.ID != op.LicenseID {
			return nil, fmt.Errorf("%w: asked to activate %s, got %s", ErrAuthorityBroken, op.LicenseID, ans.License.ID)
		}
		a := ActivatedLicense{PoolLicense: ans.License, ActivationID: ans.ActivationID, ActivatedAt: ans.ActivatedAt, State: ActivationActive}
		err = p.store.update(func(txn *badger.Txn) error {
			if err := setJSONTxn(txn, prefixActivated+a.ID, a); err != nil {
				return err
			}
			return txn.Delete([]byte(prefixPoolOp + op.RequestID))
		})
		if err != nil {
			return nil, err
		}
		p.audit.record(EventPoolActivated, fmt.Sprintf("license %s (%s), activation %s", a.ID, grant(a.PoolLicense), a.ActivationID))
		return &a, nil
	case wire.PoolOpTransfer:
		var ans wire.PoolTransferAnswer
		_, err := c.PoolPost(ctx, op.Kind, op.Envelope, &ans)
		var ae *AuthorityError
		notHeld := errors.As(err, &ae) && (ae.Code == wire.CodeNotHeld || ae.Code == wire.CodeUnknownLicense)
		if err != nil && !notHeld {
			return nil, err // the receipt stays: the license may still be held there
		}
		err2 := p.store.update(func(txn *badger.Txn) error {
			if err := txn.Delete([]byte(prefixActivated + op.LicenseID)); err != nil {
				return err
			}
			return txn.Delete([]byte(prefixPoolOp + op.RequestID))
		})
		if err2 != nil {
			return nil, err2
		}
		if notHeld {
			p.audit.record(EventPoolWithdrawn, fmt.Sprintf("license %s was not held here any more: %s", op.LicenseID, ae.Description))
			return nil, &PoolLicenseError{LicenseID: op.LicenseID, Err: err}
		}
		p.audit.record(EventPoolReturned, fmt.Sprintf("license %s returned to the cloud pool on %s", op.LicenseID, ans.TransferDate.UTC().Format(time.RFC3339)))
		return nil, nil
	}
	return nil, fmt.Errorf("%w: unknown pool operation %q", ErrStoreCorrupt, op.Kind)
}

// fresh signs a stored request again at the current time: the authority
// refuses requests issued more than wire.MaxRequestAge ago, and a receipt
// may wait longer than that for an offline authority. The request id, not
// the time, is what makes the repeat idempotent.
func (p *Pool) fresh(env []byte) ([]byte, error) {
	var e wire.PoolEnvelope
	var req wire.PoolRequest
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, fmt.Errorf("%w: stored pool request: %v", ErrStoreCorrupt, err)
	}
	if err := json.Unmarshal(e.Payload, &req); err != nil {
		return nil, fmt.Errorf("%w: stored pool request: %v", ErrStoreCorrupt, err)
	}
	key, err := p.installKey()
	if err != nil {
		return nil, err
	}
	req.IssuedAt = p.clock.Now().UTC()
	return wire.SignPoolRequest(key, req)
}

// definitive reports an answer of the authority that refuses the request
// (a 4xx with a JSON error): nothing changed there, retrying cannot help.
func definitive(err error) bool {
	var ae *AuthorityError
	return errors.As(err, &ae)
}

// ActivatedLicenses lists the pool licenses activated on this server,
// including those being returned (State ActivationReturning), by ID.
func (p *Pool) ActivatedLicenses() ([]ActivatedLicense, error) {
	var out []ActivatedLicense
	err := p.store.scan(prefixActivated, func(key string, val []byte) error {
		var a ActivatedLicense
		if err := json.Unmarshal(val, &a); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrStoreCorrupt, key, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// TotalCapacity adds up the active pool licenses of this server.
func (p *Pool) TotalCapacity() (PoolTotals, error) {
	all, err := p.ActivatedLicenses()
	return totals(all), err
}

func totals(all []ActivatedLicense) PoolTotals {
	var t PoolTotals
	for _, a := range all {
		if a.State != ActivationActive {
			continue
		}
		t.Licenses++
		t.Devices += a.Devices
		if a.MaintenanceUntil.After(t.MaintenanceUntil) {
			t.MaintenanceUntil = a.MaintenanceUntil
		}
	}
	return t
}

// TransferPlan is what returning some activated licenses to the cloud pool
// would change: the licenses, and the totals before and after.
type TransferPlan struct {
	Licenses []ActivatedLicense `json:"licences"`
	Before   PoolTotals         `json:"before"`
	After    PoolTotals         `json:"after"`
}

// PlanTransfer tells, for the confirmation before TransferToPool, what
// returning ids (nil: all active ones) would change. An id that is not an
// active license here is a *PoolLicenseError wrapping ErrNotActivated.
func (p *Pool) PlanTransfer(ids []string) (TransferPlan, error) {
	all, err := p.ActivatedLicenses()
	if err != nil {
		return TransferPlan{}, err
	}
	chosen, err := chooseActive(all, ids)
	if err != nil {
		return TransferPlan{}, err
	}
	rest := slices.DeleteFunc(slices.Clone(all), func(a ActivatedLicense) bool {
		return slices.ContainsFunc(chosen, func(c ActivatedLicense) bool { return c.ID == a.ID })
	})
	return TransferPlan{Licenses: chosen, Before: totals(all), After: totals(rest)}, nil
}

// grant is a pool license's grant as the audit log records it.
func grant(l wire.PoolLicense) string {
	if l.Kind == wire.PoolMaintenance {
		return "maintenance until " + l.MaintenanceUntil.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("%s %d", l.Kind, l.Devices)
}

// poolBusy reports whether this server holds or is returning pool licenses,
// or has an operation open.
func (p *Pool) poolBusy() (bool, error) {
	busy := false
	for _, prefix := range []string{prefixActivated, prefixPoolOp} {
		if err := p.store.scan(prefix, func(string, []byte) error { busy = true; return errStopScan }); err != nil {
			return false, err
		}
	}
	return busy, nil
}

// putJSON stores v under key.
func (s *Store) putJSON(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.put(key, raw)
}

func setJSONTxn(txn *badger.Txn, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set([]byte(key), raw)
}
