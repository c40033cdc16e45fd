package screens

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"licensedesk/licensecore"
)

// Sentences shared by Explain and the screens that special-case an error.
const (
	msgOffline = "The authorization server cannot be reached. Check this PC's internet connection and try again."
	msgDenied  = "The authorization was denied on the authorization server. Check that you chose this device, then click Next to try again."
	msgExpired = "The user code expired before it was authorized. Click Next to get a new code."
)

// explanations maps sentinel errors to sentences, checked in order: the
// first match wins, so more specific causes come before ErrTokenInvalid.
var explanations = []struct {
	err error
	msg string
}{
	{licensecore.ErrAccessDenied, msgDenied},
	{licensecore.ErrDeviceCodeExpired, msgExpired},
	{licensecore.ErrLicenseRevoked, "The license was revoked on the authorization server. Contact your provider."},
	{licensecore.ErrLicenseExpired, "The license has passed its renewal date. Renew it with your provider, then remove this license and acquire it again."},
	{licensecore.ErrRefreshRejected, "The authorization server refused to renew the license token. Remove this license and acquire it again, or contact your provider."},
	{context.Canceled, "The operation was cancelled."},
	{context.DeadlineExceeded, "The authorization server took too long to answer. Check this PC's internet connection and try again."},
	{licensecore.ErrAuthorityDown, msgOffline},
	{licensecore.ErrAuthorityBroken, "The authorization server gave an answer License Desk does not understand. Check its address in Settings."},
	{licensecore.ErrClockRollback, "This PC's clock is behind the last trusted time. Correct the date and time, then try again."},
	{licensecore.ErrAlreadyRunning, "License Desk is already running. Look for its icon in the notification area."},
	{licensecore.ErrNotLicensed, "This server has no license yet. Acquire one first."},
	{licensecore.ErrAdminRequired, "This change needs a System Administrator. Log in as an administrator and try again."},
	{licensecore.ErrBadCredentials, "The user name or password is wrong."},
	{licensecore.ErrLoginThrottled, "Too many failed logins. Wait a little, then try again."},
	{licensecore.ErrWeakPassword, "Choose a password with at least 8 characters."},
	{licensecore.ErrInvalidUserName, "Use a user name of up to 64 letters, digits, dots, dashes or underscores."},
	{licensecore.ErrAdminExists, "An administrator account already exists. Log in with it."},
	{licensecore.ErrClosed, "License Desk is shutting down. Start it again and retry."},
	{licensecore.ErrStoreCorrupt, "The license data on this PC is damaged. Remove the license and acquire it again."},
	{licensecore.ErrSchemaTooNew, "The license data was written by a newer version of License Desk. Install that version."},
	{licensecore.ErrAuditTampered, "The license history on this PC has been altered. Contact support."},
	{licensecore.ErrTokenExpired, "The license token has expired. Connect this server to the internet to get a fresh one."},
	{licensecore.ErrTokenNotYet, "The license token is not valid yet. Check this PC's date and time."},
	{licensecore.ErrInvalidKeySet, "The authorization server sent signing keys License Desk cannot use. Contact support."},
	{licensecore.ErrTokenInvalid, "The authorization server sent a license token License Desk cannot trust. Check its address in Settings, or contact support."},
}

// plainSentinels are licensecore errors whose own text is already written
// for the person at the server (and whose wrapping adds useful detail, such
// as the group of a mistyped code): Explain shows the whole error as a
// sentence.
var plainSentinels = []error{
	licensecore.ErrInvalidCustomerID, licensecore.ErrUnknownCustomer, licensecore.ErrNoCustomerID,
	licensecore.ErrCustomerInUse, licensecore.ErrCodeTypo, licensecore.ErrCodeInvalid, licensecore.ErrNoChallenge,
	licensecore.ErrResponseMismatch, licensecore.ErrResponseCannotCarry, licensecore.ErrRequestInvalid,
	licensecore.ErrFileTooLarge, licensecore.ErrEntitlementTampered, licensecore.ErrEntitlementForeign,
	licensecore.ErrEntitlementReplayed, licensecore.ErrEntitlementExpired, licensecore.ErrSwitchSameType,
	licensecore.ErrSwitchPending, licensecore.ErrPoolLicenseUnavailable, licensecore.ErrInstallConflict,
	licensecore.ErrPoolRefused, licensecore.ErrNotActivated,
}

// asSentence capitalises the first letter and ends with a full stop.
func asSentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// Explain turns an error into a sentence for the person at the server.
// It never returns technical jargon alone: unknown errors get a generic
// sentence with a short detail for support.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range explanations {
		if errors.Is(err, e.err) {
			return e.msg + serverWords(err)
		}
	}
	for _, s := range plainSentinels {
		if errors.Is(err, s) {
			return asSentence(err.Error()) + serverWords(err)
		}
	}
	if isNetworkError(err) {
		return msgOffline
	}
	return "Something went wrong (" + shorten(err.Error(), 120) + "). Try again; if it keeps happening, contact support."
}

// serverWords quotes the authorization server's own explanation of a
// refusal, which often says what to do (for example which license is full).
func serverWords(err error) string {
	var ae *licensecore.AuthorityError
	if !errors.As(err, &ae) || ae.Description == "" {
		return ""
	}
	return " The authorization server said: \u201c" + shorten(ae.Description, 160) + "\u201d"
}

// isNetworkError reports failures to reach the server at all, as opposed to
// the server answering badly. net.Error covers *url.Error, *net.OpError,
// DNS errors and errno values such as ECONNREFUSED.
func isNetworkError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
