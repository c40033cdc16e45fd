package plain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// Sentences shared by Explain and the screens that special-case an error.
const (
	msgOffline = "The authorization server cannot be reached. Check this PC's internet connection and try again."
	MsgDenied  = "The authorization was denied on the authorization server. Check that you chose this device, then click Next to try again."
	MsgExpired = "The user code expired before it was authorized. Click Next to get a new code."
)

// msgUntrusted is said of every token the authority sent that failed a
// check: to the person at the server the causes are one.
const msgUntrusted = "The authorization server sent a license token License Desk cannot trust. Check its address in Settings, or contact support."

// explanations maps sentinel errors to sentences, checked in order: the
// first match wins, so more specific causes come before ErrTokenInvalid.
// Every sentinel of licensecore and licensecore/wire has its sentence here;
// their own texts are for logs.
var explanations = []struct {
	err error
	msg string
}{
	{licensecore.ErrAccessDenied, MsgDenied},
	{licensecore.ErrDeviceCodeExpired, MsgExpired},
	{licensecore.ErrLicenseRevoked, "The license was revoked on the authorization server. Contact your provider."},
	{licensecore.ErrLicenseExpired, "The license has passed its renewal date. Renew it with your provider, then remove this license and acquire it again."},
	{licensecore.ErrRefreshRejected, "The authorization server refused to renew the license token. Remove this license and acquire it again, or contact your provider."},
	{licensecore.ErrUnknownRequest, "The authorization server no longer knows this request. Start it again."},
	{licensecore.ErrChainRevoked, "The authorization server revoked this server's license tokens because an old one was used again, which happens when tokens are copied. Acquire the license again; if it happens again, contact your provider."},
	{licensecore.ErrKeyMismatch, "This license was issued to another installation of License Desk, for example before the data folder was copied here. Acquire the license on this PC."},
	{licensecore.ErrNoRoot, "No root key of the Authorization server is configured, so License Desk cannot trust any license. Enter the root key your provider gave you in Settings."},
	{licensecore.ErrRootMismatch, "The root key in the configuration differs from the one this PC trusts. An administrator must confirm the new key in Settings."},
	{licensecore.ErrBadAuthorityURL, "Enter the Authorization server address in full, for example https://licensing.example.com. It must use https unless the server runs on this PC."},
	{wire.ErrUntrustedKeySet, "The signing keys did not come from the Authorization server this PC trusts (they are not signed by its root key). Check the address in Settings, or contact your provider."},
	{wire.ErrUnsignedAnswer, "The answer did not come from the Authorization server this PC trusts (it is not signed for this request), so nothing was changed. Check the address in Settings."},
	{wire.ErrBadRootKey, "That is not a root key. It looks like ed25519: followed by 43 letters, digits, '-' or '_'; copy it again from your provider."},
	{context.Canceled, "The operation was cancelled."},
	{context.DeadlineExceeded, "The authorization server took too long to answer. Check this PC's internet connection and try again."},
	{licensecore.ErrAuthorityDown, msgOffline},
	{licensecore.ErrAuthorityBroken, "The authorization server gave an answer License Desk does not understand. Check its address in Settings."},
	{licensecore.ErrClockRollback, "This PC's clock is behind the last trusted time. Correct the date and time, then try again."},
	{licensecore.ErrAlreadyRunning, "License Desk is already running. Look for its icon in the notification area."},
	{licensecore.ErrNotLicensed, "This server has no license yet. Acquire one first."},
	{licensecore.ErrAdminRequired, "This change needs a System Administrator. Log in as an administrator and try again."},
	{licensecore.ErrBadCredentials, "The user name or password is wrong. Check Caps Lock and try again."},
	{licensecore.ErrLoginThrottled, "Too many failed logins. Wait a little, then try again."},
	{licensecore.ErrWeakPassword, "Choose a password with at least 8 characters."},
	{licensecore.ErrInvalidUserName, "Use a user name of up to 64 letters, digits, dots, dashes or underscores."},
	{licensecore.ErrAdminExists, "An administrator account already exists. Log in with it."},
	{licensecore.ErrClosed, "License Desk is shutting down. Start it again and retry."},
	{licensecore.ErrStoreKeyMissing, "The key of the license data is not in this PC's credential store (it may be locked, or the data folder was copied from another PC). Unlock the keyring and start License Desk again; a copied folder cannot be used."},
	{licensecore.ErrSecretsForeign, "The keys in this data folder were sealed on another PC, so they cannot be used here. Acquire the license on this PC."},
	{licensecore.ErrStoreCorrupt, "The license data on this PC is damaged. Remove the license and acquire it again."},
	{licensecore.ErrNotStored, "The license data on this PC is incomplete. Remove the license and acquire it again."},
	{licensecore.ErrSchemaTooNew, "The license data was written by a newer version of License Desk. Install that version."},
	{licensecore.ErrAuditTampered, "The license history on this PC has been altered. Contact support."},
	// Offline activation.
	{licensecore.ErrNoChallenge, "There is no code waiting for a reply on this PC. Click Get code first."},
	{licensecore.ErrNoInstallCode, "This PC has no install code, so it cannot be activated offline. Contact support."},
	{licensecore.ErrFileTooLarge, "The file is too large to be a license file. Choose the license file the Authorization server made."},
	{licensecore.ErrEntitlementForeign, "The license file was made for another PC or another authorization server. Make a new license request on this PC."},
	{licensecore.ErrEntitlementReplayed, "The license file has been imported before, or is older than the license this PC has."},
	{licensecore.ErrEntitlementExpired, "The license file has expired. Make a new license request and get a new file."},
	{licensecore.ErrEntitlementTampered, "The license file is damaged or has been altered. Download it again from the authorization server."},
	{wire.ErrResponseMismatch, "The reply code does not answer the code shown on this PC, or was not made by the licensing authority. Check that it was made for the code shown here."},
	{wire.ErrResponseCannotCarry, "A reply code cannot carry these features. Use a license file instead."},
	{wire.ErrRequestInvalid, "The license request is incomplete or damaged. Enter the account and serial numbers and make a new request."},
	{wire.ErrCodeInvalid, "This is not a License Desk code. Check that the whole code was copied."},
	{wire.ErrUnknownKey, "License Desk does not know the key this was signed with yet. Connect this server to the authorization server once, or use a license file."},
	// The lifecycle.
	{licensecore.ErrSwitchSameType, "The license already has that type; there is nothing to switch."},
	{licensecore.ErrSwitchPending, "Another license change is already waiting for approval. Wait for its decision first."},
	{licensecore.ErrNoSwitchPending, "No license change is waiting for approval; there is nothing to check."},
	// The customer account and the cloud pool.
	{licensecore.ErrUnknownCustomer, "The authorization server does not know this Customer ID. Copy it again from the Customers page of the Authorization server."},
	{licensecore.ErrNoCustomerID, "No Customer ID is set for this server. Enter the one from the Authorization server's Customers page on the Customer account screen."},
	{licensecore.ErrCustomerInUse, "This server holds cloud licenses of its current customer. Transfer them to the cloud before changing the Customer ID."},
	{licensecore.ErrPoolLicenseUnavailable, "The license is not available in the cloud pool any more; another server may have taken it. Refresh the list."},
	{licensecore.ErrInstallConflict, "Another installation with this install code is registered for the cloud pool. Contact your provider."},
	{licensecore.ErrNotActivated, "That license is not activated on this server. Refresh the list of activated licenses."},
	{licensecore.ErrInstallUnlicensed, "The cloud pool serves only a server that holds a license. Get this server's license first (License tab), then try again."},
	{licensecore.ErrRequestStale, "The authorization server refused the request because this PC's clock is more than ten minutes off. Correct the date and time, then try again."},
	{licensecore.ErrAuthorityBusy, "The authorization server is busy and asked License Desk to wait. Try again in a minute."},
	{licensecore.ErrPoolRefused, "The authorization server refused the cloud-pool request. Refresh the list and try again, or contact your provider."},
	// Tokens, most specific first.
	{licensecore.ErrTokenExpired, "The license token has expired. Connect this server to the internet to get a fresh one."},
	{licensecore.ErrTokenNotYet, "The license token is not valid yet. Check this PC's date and time."},
	{wire.ErrInvalidKeySet, "The authorization server sent signing keys License Desk cannot use. Contact support."},
	{licensecore.ErrWrongHolder, "The Authorization server sent a license token issued to another installation. Acquire the license again on this PC."},
	{licensecore.ErrTokenInvalid, msgUntrusted},
	{licensecore.ErrTokenTooLarge, msgUntrusted},
	{licensecore.ErrWrongAudience, msgUntrusted},
	{licensecore.ErrWrongIssuer, msgUntrusted},
	{licensecore.ErrBadAlgorithm, msgUntrusted},
	{licensecore.ErrBadSignature, msgUntrusted},
	{licensecore.ErrMalformedToken, msgUntrusted},
	{licensecore.ErrMissingClaim, msgUntrusted},
}

// typedSentence words the errors that carry details the person needs: the
// group of a mistyped code, the text that is not a Customer ID, the license
// of a batch that failed.
func typedSentence(err error) (string, bool) {
	var ce *wire.CodeError
	var ie *wire.CustomerIDError
	var pe *licensecore.PoolLicenseError
	switch {
	case errors.As(err, &ce) && ce.Group > 0:
		return fmt.Sprintf("The %s code has a typing mistake in group %d: %s.", ce.Code, ce.Group, ce.Reason), true
	case errors.As(err, &ce):
		return fmt.Sprintf("The %s code has a typing mistake: %s.", ce.Code, ce.Reason), true
	case errors.As(err, &ie):
		return fmt.Sprintf("%q is not a valid Customer ID. It looks like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.", ie.Input), true
	case errors.As(err, &pe):
		return "License " + pe.LicenseID + ": " + Explain(pe.Err), true
	case errors.Is(err, wire.ErrCodeTypo):
		return "The code has a typing mistake. Check every character.", true
	case errors.Is(err, licensecore.ErrLicenseMoved):
		if ae := (*licensecore.AuthorityError)(nil); errors.As(err, &ae) && ae.Description != "" {
			return asSentence(ae.Description) + " Acquire a license for this PC, or ask your provider.", true
		}
		return "This license was moved to another PC. Acquire a license for this PC, or ask your provider.", true
	case errors.Is(err, wire.ErrInvalidCustomerID):
		return "That is not a valid Customer ID. It looks like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.", true
	}
	return "", false
}

// asSentence ends the authority's words with a full stop.
func asSentence(s string) string {
	if s != "" && !strings.HasSuffix(s, ".") {
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
	if msg, ok := typedSentence(err); ok {
		return msg
	}
	for _, e := range explanations {
		if errors.Is(err, e.err) {
			return e.msg + serverWords(err)
		}
	}
	if IsNetworkError(err) {
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
func IsNetworkError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
