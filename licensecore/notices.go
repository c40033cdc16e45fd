package licensecore

import (
	"fmt"
	"slices"
	"time"
)

// NoticeKind is what a due desktop notification is about.
type NoticeKind int

// Notice kinds, in the order DueNotices lists them.
const (
	NoticeTokenExpiring   NoticeKind = iota + 1 // the token nears its expiry
	NoticeTokenExpired                          // registers cannot authenticate
	NoticeOfflineExpiring                       // the offline window nears its end
	NoticeLicenseExpired                        // past the renewal date
	NoticeRenewalDue                            // a renewal threshold is crossed
)

// Notice is a desktop notification that is due; the screens word it from
// Kind and the status. Keys name every threshold it covers; the app records
// them in the store (Store.MarkNotified) so each threshold fires once,
// across restarts. Days is the tightest renewal threshold crossed
// (NoticeRenewalDue only).
type Notice struct {
	Kind NoticeKind
	Keys []string
	Days int
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
		out = append(out, Notice{Kind: NoticeTokenExpiring, Keys: []string{"token-soon/" + l.TokenID}})
	case TokenExpired:
		out = append(out, Notice{Kind: NoticeTokenExpired, Keys: []string{"token-expired/" + l.TokenID}})
	}
	if st.OfflineExpiring {
		out = append(out, Notice{Kind: NoticeOfflineExpiring, Keys: []string{"offline/" + l.LicenseID + "/" + st.OfflineGraceEnd.Format("2006-01-02")}})
	}
	if l.RenewalDate.IsZero() {
		return out
	}
	renewal := l.LicenseID + "/" + l.RenewalDate.Format("2006-01-02")
	if st.State == ExpiredRequiresRenewal {
		return append(out, Notice{Kind: NoticeLicenseExpired, Keys: []string{"licence-expired/" + renewal}})
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
		out = append(out, Notice{Kind: NoticeRenewalDue, Keys: keys, Days: tightest})
	}
	return out
}
