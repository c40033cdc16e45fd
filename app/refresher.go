package app

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"licensedesk/licensecore"

	"github.com/rs/zerolog"
)

// refreshService is what the refresher needs from the manager.
type refreshService interface {
	Status() licensecore.Status
	NextRefresh() time.Time
	CheckHealth(ctx context.Context) error
	RefreshNow(ctx context.Context) (licensecore.Status, error)
}

// refresher renews the licence token at its refresh point whenever the
// authority answers, and re-publishes the status every tick so countdowns
// and notifications stay current. Offline is a normal state: it backs off
// (exponential with jitter) and tries again; it never blocks the UI.
type refresher struct {
	svc      refreshService
	log      zerolog.Logger
	publish  func(licensecore.Status)
	kick     chan struct{}
	tick     time.Duration // status re-evaluation period
	minRetry time.Duration
	maxRetry time.Duration
}

func newRefresher(svc refreshService, log zerolog.Logger, publish func(licensecore.Status)) *refresher {
	return &refresher{
		svc: svc, log: log, publish: publish,
		kick: make(chan struct{}, 1), tick: time.Minute,
		minRetry: 30 * time.Second, maxRetry: 30 * time.Minute,
	}
}

// Kick asks for an immediate refresh attempt (the tray's "Refresh tokens
// now", or a new licence). It never blocks.
func (r *refresher) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *refresher) run(ctx context.Context) {
	retry := time.Duration(0) // 0: not backing off
	var retryAt time.Time
	for {
		st := r.svc.Status()
		r.publish(st)
		wait := r.tick
		now := time.Now()
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
		if !kicked && (due.IsZero() || time.Now().Before(due)) {
			continue
		}
		if err := r.attempt(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			retry = nextBackoff(retry, r.minRetry, r.maxRetry)
			retryAt = time.Now().Add(retry)
			r.log.Info().Err(err).Dur("retry_in", retry).Msg("token refresh postponed")
			continue
		}
		retry, retryAt = 0, time.Time{}
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
	if errors.Is(err, licensecore.ErrNotLicensed) {
		return nil
	}
	r.publish(r.svc.Status())
	return err
}

// nextBackoff doubles the previous delay within [lo, hi] and adds ±20 %
// jitter so a store full of back-office PCs does not retry in lockstep.
func nextBackoff(prev, lo, hi time.Duration) time.Duration {
	d := lo
	if prev > 0 {
		d = min(prev*2, hi)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
