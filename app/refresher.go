package app

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

// refreshService is what the refresher needs from the manager.
type refreshService interface {
	Status() licensecore.Status
	Policy() licensecore.Policy
	NextRefresh() time.Time
	CheckHealth(ctx context.Context) error
	RefreshNow(ctx context.Context) (licensecore.Status, error)
	VerifyDue() bool
	Verify(ctx context.Context) (licensecore.Status, error)
	PendingSwitch() (licensecore.SwitchRequest, bool)
	CheckSwitch(ctx context.Context) (licensecore.SwitchRequest, licensecore.Status, error)
}

// refresher renews the license token at its refresh point whenever the
// authority answers, and re-publishes the status every tick so countdowns
// and notifications stay current. Offline is a normal state: it backs off
// (exponential with jitter) and tries again; it never blocks the UI.
type refresher struct {
	svc     refreshService
	log     zerolog.Logger
	publish func(licensecore.Status)
	kick    chan struct{}
	tick    time.Duration     // status re-evaluation period
	retry   licensecore.Retry // the timing of attempts after a failure
	// verifyBackoff: no verification or switch check before this time,
	// after the authority did not answer.
	verifyBackoff time.Time
}

func newRefresher(svc refreshService, log zerolog.Logger, publish func(licensecore.Status)) *refresher {
	return &refresher{
		svc: svc, log: log, publish: publish,
		kick: make(chan struct{}, 1), tick: time.Minute,
		retry: licensecore.Retry{},
	}
}

// Kick asks for an immediate refresh attempt (the menu's "Refresh tokens
// now", or a new license). It never blocks.
func (r *refresher) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *refresher) run(ctx context.Context) {
	retry := time.Duration(0) // 0: not backing off
	var retryAt, failingSince time.Time
	var pastDue time.Duration // the spacing of refreshes whose point stays past
	for {
		st := r.svc.Status()
		r.publish(st)
		// Wake at the next moment the status or its words change (a
		// threshold, an expiry, "in 3 days" becoming "in 2 days"), at the
		// latest after a tick.
		wait := r.tick
		now := time.Now()
		if next := plain.NextUpdate(st, r.svc.Policy()); !next.IsZero() {
			wait = min(wait, max(next.Sub(st.At), 10*time.Millisecond))
		}
		due := r.dueAt(st, retryAt)
		if !due.IsZero() {
			wait = min(wait, max(due.Sub(now), 0))
		}
		timer := time.NewTimer(wait)
		kicked := false
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-r.kick:
			timer.Stop()
			kicked = true
		case <-timer.C:
		}
		r.housekeeping(ctx)
		if !kicked && (due.IsZero() || time.Now().Before(due)) {
			continue
		}
		err := r.attempt(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if retry == 0 {
				failingSince = time.Now()
			}
			retry = r.retry.Next(retry, time.Since(failingSince))
			retryAt = time.Now().Add(retry)
			r.log.Info().Err(err).Dur("retry_in", retry).Msg("token refresh postponed")
			continue
		}
		// A refresh point still past right after a success (a PC clock
		// far ahead of the authority's) must not become a loop: such
		// refreshes are spaced out, doubling to at most half an hour.
		retry, retryAt = 0, time.Time{}
		if !r.svc.NextRefresh().After(time.Now()) {
			pastDue = min(max(2*pastDue, minRefreshGap), maxPastDueGap)
			retryAt = time.Now().Add(pastDue)
		} else {
			pastDue = 0
		}
	}
}

// minRefreshGap and maxPastDueGap space out refreshes whose point stays in
// the past.
const (
	minRefreshGap = time.Minute
	maxPastDueGap = 30 * time.Minute
)

// housekeeping runs the online checks that are not token refreshes, at most
// once a tick and only when the authority answers: the daily verification
// of a subscription, and whether a requested model switch was decided.
func (r *refresher) housekeeping(ctx context.Context) {
	_, pending := r.svc.PendingSwitch()
	verify := r.svc.VerifyDue()
	if !pending && !verify {
		return
	}
	if !r.verifyBackoff.IsZero() && time.Now().Before(r.verifyBackoff) {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := r.svc.CheckHealth(hctx)
	cancel()
	if err != nil {
		// A verification spends no token, so no answer can be pending: the
		// plain back-off's first step.
		r.verifyBackoff = time.Now().Add(r.retry.Next(0, 24*time.Hour))
		return
	}
	r.verifyBackoff = time.Time{}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if verify {
		st, err := r.svc.Verify(cctx)
		if err != nil {
			r.log.Info().Err(err).Msg("daily license verification did not complete")
		}
		r.publish(st)
	}
	if pending {
		req, st, err := r.svc.CheckSwitch(cctx)
		switch {
		case err != nil:
			r.log.Info().Err(err).Msg("checking the model switch failed")
		case req.Status == wire.SwitchApproved:
			r.log.Info().Str("to", string(req.To)).Msg("model switch approved")
			r.publish(st)
		}
	}
}

// dueAt is when the next attempt should happen: the token's refresh point,
// or the back-off deadline after a failure, whichever is later.
func (r *refresher) dueAt(st licensecore.Status, retryAt time.Time) time.Time {
	if st.License == nil {
		return time.Time{}
	}
	due := r.svc.NextRefresh()
	if retryAt.After(due) {
		due = retryAt
	}
	return due
}

func (r *refresher) attempt(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := r.svc.CheckHealth(hctx)
	cancel()
	if err != nil {
		return err // offline: not worth a refresh attempt
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := r.svc.RefreshNow(rctx)
	if err == nil {
		r.publish(st)
		return nil
	}
	// Failures back off, including ErrNotLicensed: a license that came
	// from a license file has no refresh token, and must not be retried
	// in a tight loop.
	r.publish(r.svc.Status())
	return err
}
