package app

import (
	"math"
	"time"

	"licensedesk/licensecore"
	"licensedesk/screens/plain"
)

// statusJSON is the stable shape of `licensedesk status --json`, read by IT
// monitoring scripts.
type statusJSON struct {
	Status         string `json:"status"`
	Severity       int    `json:"severity"`
	TokenState     string `json:"token_state"`
	TokenExpiresIn *int64 `json:"token_expires_in_seconds,omitempty"`
	RenewalIn      *int64 `json:"renewal_in_seconds,omitempty"`
	ClockError     bool   `json:"clock_error"`
	// ServerClockOffset is the Authorization server's clock minus this
	// PC's, in seconds (negative: the PC is ahead), once an answer showed
	// it; ClockMessage words it when it matters (over a minute).
	ServerClockOffset *int64 `json:"server_clock_offset_seconds,omitempty"`
	ClockMessage      string `json:"clock_message,omitempty"`
	OfflineGraceEnd   string `json:"offline_grace_end,omitempty"`
	OfflineDaysLeft   *int   `json:"offline_days_left,omitempty"`
	Warning           string `json:"warning,omitempty"`
	At                string `json:"at"`
	// LastContact is the last answer from the Authorization server (the
	// license's offline_since is given only while it is used offline).
	LastContact string               `json:"last_contact,omitempty"`
	License     *licensecore.License `json:"licence,omitempty"`
}

// statusDocument is what `status --json` prints for s (evaluated under the
// policy in force).
func statusDocument(s licensecore.Status) statusJSON {
	out := statusJSON{
		Status:     s.State.String(),
		Severity:   s.Severity(),
		TokenState: s.Token.String(),
		ClockError: s.ClockError,
		At:         s.At.UTC().Format("2006-01-02T15:04:05Z07:00"),
		License:    s.License,
	}
	if l := s.License; l != nil && !l.OfflineSince.IsZero() {
		out.LastContact = l.OfflineSince.UTC().Format("2006-01-02T15:04:05Z07:00")
		if !l.Offline {
			online := *l
			online.OfflineSince = time.Time{}
			out.License = &online
		}
	}
	if s.ServerOffsetKnown {
		v := int64(s.ServerOffset / time.Second)
		out.ServerClockOffset = &v
		out.ClockMessage = plain.ClockOffset(s)
	}
	if s.Token != licensecore.TokenNone {
		v := int64(math.Floor(s.TokenLeft.Seconds()))
		out.TokenExpiresIn = &v
	}
	if s.HasRenewalDate() {
		v := int64(math.Floor(s.RenewalLeft.Seconds()))
		out.RenewalIn = &v
	}
	if !s.OfflineGraceEnd.IsZero() {
		out.OfflineGraceEnd = s.OfflineGraceEnd.UTC().Format("2006-01-02T15:04:05Z07:00")
		days := s.OfflineDaysLeft
		out.OfflineDaysLeft = &days
	}
	if s.OfflineExpiring || (s.License != nil && s.License.Offline && s.State == licensecore.ExpiredRequiresRenewal) {
		out.Warning = plain.OfflineWarning(s)
	}
	return out
}
