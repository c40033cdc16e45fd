package licensecore

import (
	"fmt"
	"slices"
	"time"
)

// Notice is a desktop notification that is due. Keys name every threshold
// it covers; the app records them in the store (Store.MarkNotified) so each
// threshold fires once, across restarts.
type Notice struct {
	Keys  []string
	Title string
	Body  string
}

const day = 24 * time.Hour

// DueNotices lists the notifications the status calls for. When several
// renewal thresholds are crossed at once (the PC was off for weeks) only
// the tightest is shown, but all are covered so none fires later.
func DueNotices(st Status, p Policy) []Notice {
	l := st.License
	if l == nil {
		return nil
	}
	var out []Notice
	switch st.Token {
	case TokenExpiringSoon:
		out = append(out, Notice{
			Keys:  []string{"token-soon/" + l.TokenID},
			Title: "License token expires soon",
			Body:  fmt.Sprintf("The license token expires %s. Connect this server to the internet to get fresh tokens.", l.TokenExpiry.Local().Format("Mon 2 Jan 15:04")),
		})
	case TokenExpired:
		out = append(out, Notice{
			Keys:  []string{"token-expired/" + l.TokenID},
			Title: "License token has expired",
			Body:  "Registers cannot authenticate until this server gets a fresh token. Connect it to the internet.",
		})
	}
	if st.OfflineExpiring {
		out = append(out, Notice{
			Keys:  []string{"offline/" + l.LicenseID + "/" + st.OfflineGraceEnd.Format("2006-01-02")},
			Title: "License expires soon: licensing server unavailable",
			Body:  OfflineWarning(st, p) + ". Connect this server to the internet, or import a new license file.",
		})
	}
	if l.RenewalDate.IsZero() {
		return out
	}
	renewal := l.LicenseID + "/" + l.RenewalDate.Format("2006-01-02")
	if st.State == ExpiredRequiresRenewal {
		return append(out, Notice{
			Keys:  []string{"licence-expired/" + renewal},
			Title: "License expired – requires renewal",
			Body:  "The license passed its renewal date. Remove it and acquire a renewed license.",
		})
	}
	days := slices.Clone(p.RenewalNoticeDays[:])
	slices.Sort(days) // tightest first
	var keys []string
	tightest := 0
	for _, d := range days {
		if d > 0 && st.RenewalLeft <= time.Duration(d)*day {
			keys = append(keys, fmt.Sprintf("renewal-%d/%s", d, renewal))
			if tightest == 0 {
				tightest = d
			}
		}
	}
	if len(keys) > 0 {
		out = append(out, Notice{
			Keys:  keys,
			Title: "License requires renewal",
			Body:  fmt.Sprintf("The license must be renewed by %s (within %d days).", l.RenewalDate.Local().Format("2 Jan 2006"), tightest),
		})
	}
	return out
}
