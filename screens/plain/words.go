package plain

import (
	"crypto/ed25519"
	"fmt"
	"strconv"
	"strings"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// The sentences composed from licensecore's facts: the offline window, the
// cloud licenses, the transfer confirmation and the desktop notifications.

// OfflineWarning is the sentence shown when a license refreshed offline
// nears or reaches the end of its offline window, e.g. "The license will
// expire in 7 days because the licensing server has been unavailable for
// 23 days"; "" when there is nothing to say. st was evaluated under the
// policy in force, which set the window and the warning period.
func OfflineWarning(st licensecore.Status) string {
	l := st.License
	if l == nil || !l.Offline || st.OfflineGraceEnd.IsZero() {
		return ""
	}
	away := Plural(st.OfflineDays, "day")
	switch {
	case !st.At.Before(st.OfflineGraceEnd):
		return "The license has expired because the licensing server has been unavailable for " + away
	case st.OfflineExpiring:
		return fmt.Sprintf("The license will expire in %s because the licensing server has been unavailable for %s", Plural(st.OfflineDaysLeft, "day"), away)
	}
	return ""
}

// clockSlack is how far this PC's clock may be from the authority's before
// the screens mention it.
const clockSlack = time.Minute

// ClockOffset words how far this PC's clock is from the Authorization
// server's, e.g. "This PC's clock is 3 h 12 min behind the Authorization
// server"; "" while no answer has shown it or it is within a minute.
func ClockOffset(st licensecore.Status) string {
	off := st.ServerOffset
	if !st.ServerOffsetKnown || (off <= clockSlack && off >= -clockSlack) {
		return ""
	}
	way := "behind"
	if off < 0 {
		way, off = "ahead of", -off
	}
	return "This PC's clock is " + clockSpan(off) + " " + way + " the Authorization server"
}

// clockSpan renders an offset in its two largest units: "2 days 4 h",
// "3 h 12 min", "5 min".
func clockSpan(d time.Duration) string {
	d = d.Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0 && h > 0:
		return Plural(days, "day") + " " + strconv.Itoa(h) + " h"
	case days > 0:
		return Plural(days, "day")
	case h > 0 && m > 0:
		return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
	case h > 0:
		return strconv.Itoa(h) + " h"
	}
	return strconv.Itoa(m) + " min"
}

// poolDate is the date of a pool license's maintenance.
func poolDate(t time.Time) string { return t.UTC().Format(dateLayout) }

// describePool says what a pool license grants: "8 devices", "1 device" or
// "Maintenance until 31 Dec 2027".
func DescribePool(l wire.PoolLicense) string {
	switch l.Kind {
	case wire.PoolCapacity:
		return Plural(l.Devices, "device")
	case wire.PoolMaintenance:
		return "Maintenance until " + poolDate(l.MaintenanceUntil)
	}
	return string(l.Kind)
}

// transferImpact words a transfer plan for the confirmation, e.g. "2
// licenses return to the cloud pool. Capacity drops from 12 to 4 devices;
// 8 devices become unlicensed."
func TransferImpact(plan licensecore.TransferPlan) string {
	if len(plan.Licenses) == 0 {
		return "No activated license is selected; nothing changes."
	}
	var b strings.Builder
	if len(plan.Licenses) == 1 {
		l := plan.Licenses[0]
		fmt.Fprintf(&b, "License %s (%s) returns to the cloud pool.", l.ID, DescribePool(l.PoolLicense))
	} else {
		fmt.Fprintf(&b, "%d licenses return to the cloud pool.", len(plan.Licenses))
	}
	before, after := plan.Before, plan.After
	if lost := before.Devices - after.Devices; lost > 0 {
		verb := "become"
		if lost == 1 {
			verb = "becomes"
		}
		fmt.Fprintf(&b, " Capacity drops from %d to %d devices; %s %s unlicensed.", before.Devices, after.Devices, Plural(lost, "device"), verb)
	}
	switch {
	case before.MaintenanceUntil.Equal(after.MaintenanceUntil):
	case after.MaintenanceUntil.IsZero():
		fmt.Fprintf(&b, " Maintenance (until %s) ends now.", poolDate(before.MaintenanceUntil))
	default:
		fmt.Fprintf(&b, " Maintenance ends on %s instead of %s.", poolDate(after.MaintenanceUntil), poolDate(before.MaintenanceUntil))
	}
	return b.String()
}

// NoticeText words a due desktop notification; dates are shown in loc.
func NoticeText(n licensecore.Notice, st licensecore.Status, loc *time.Location) (title, body string) {
	l := st.License
	if l == nil {
		return "", ""
	}
	switch n.Kind {
	case licensecore.NoticeTokenExpiring:
		return "License token expires soon",
			fmt.Sprintf("The license token expires %s. Connect this server to the internet to get fresh tokens.", l.TokenExpiry.In(loc).Format("Mon 2 Jan 15:04"))
	case licensecore.NoticeTokenExpired:
		return "License token has expired", "Registers cannot authenticate until this server gets a fresh token. Connect it to the internet."
	case licensecore.NoticeOfflineExpiring:
		return "License expires soon: licensing server unavailable",
			OfflineWarning(st) + ". Connect this server to the internet, or import a new license file."
	case licensecore.NoticeLicenseExpired:
		return "License expired – requires renewal", "The license passed its renewal date. Remove it and acquire a renewed license."
	case licensecore.NoticeRenewalDue:
		return "License requires renewal",
			fmt.Sprintf("The license must be renewed by %s (within %d days).", l.RenewalDate.In(loc).Format(dateLayout), n.Days)
	}
	return "", ""
}

// RepinQuestion asks for the confirmation before a new root key is pinned:
// the person compares both fingerprints with what the provider said.
func RepinQuestion(old, next ed25519.PublicKey) string {
	return "This PC trusts the Authorization server whose root key has the fingerprint\n" + wire.Fingerprint(old) +
		"\n\nThe new root key has the fingerprint\n" + wire.Fingerprint(next) +
		"\n\nOnly continue if your provider confirmed the new fingerprint. Licenses from the old server stop being trusted."
}

// RefreshOutcome words the result of "Refresh tokens now" as a
// notification's title and body (the window may be closed).
func RefreshOutcome(st licensecore.Status, err error) (title, body string) {
	if err == nil && st.License == nil {
		err = licensecore.ErrNotLicensed
	}
	if err != nil {
		return "Token refresh failed", Explain(err)
	}
	return "License token refreshed", "New token valid until " + st.License.TokenExpiry.Local().Format("Mon 2 Jan 15:04") + "."
}

// CloseHint is the notification shown when the window closes: the license
// is still watched, and where to find License Desk again (the tray icon,
// or the applications menu on a desktop without a tray).
func CloseHint(trayHost bool) (title, body string) {
	title = "License Desk is still watching your license"
	if trayHost {
		return title, "Tokens are refreshed in the background. Click the License Desk icon in the system tray to open the window again."
	}
	return title, "Tokens are refreshed in the background. This desktop shows no tray icons: open License Desk again from the applications menu."
}

// LicensedNotice words the desktop notification sent when the wizard's
// license arrives, e.g. "License Desk is licensed" / "License for Main
// Street Store · Back office PC (POS-0009).".
func LicensedNotice(st licensecore.Status) (title, body string) {
	if who := Licensee(st.License); who != "" {
		return "License Desk is licensed", "License for " + who + "."
	}
	return "License Desk is licensed", "This server has a license."
}

// DescribeChanges says what a downloaded license changed, one line each.
func DescribeChanges(changes []licensecore.Change) string {
	if len(changes) == 0 {
		return "The license is up to date: nothing changed."
	}
	lines := []string{"New license downloaded. Changes:"}
	for _, c := range changes {
		lines = append(lines, fmt.Sprintf("• %s: %s → %s", c.Field, OrNone(c.Old), OrNone(c.New)))
	}
	return strings.Join(lines, "\n")
}

func OrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
