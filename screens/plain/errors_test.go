package plain

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

func TestExplain(t *testing.T) {
	refused := &url.Error{Op: "Post", URL: "https://auth.example.com/token",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want string // exact, or a prefix when it ends with "…"
	}{
		{"nil", nil, ""},
		{"connection refused", refused, msgOffline},
		{"dns", fmt.Errorf("fetch keys: %w", &net.DNSError{Err: "no such host", Name: "auth.example.com", IsNotFound: true}), msgOffline},
		{"errno", syscall.ECONNRESET, msgOffline},
		{"cut off", fmt.Errorf("reading answer: %w", io.ErrUnexpectedEOF), msgOffline},
		{"authority down", fmt.Errorf("%w: %v", licensecore.ErrAuthorityDown, refused), msgOffline},
		{"deadline", fmt.Errorf("poll: %w", context.DeadlineExceeded), "The authorization server took too long to answer…"},
		{"deadline inside url error", &url.Error{Op: "Get", URL: "x", Err: context.DeadlineExceeded}, "The authorization server took too long to answer…"},
		{"cancelled", context.Canceled, "The operation was cancelled."},
		{"denied", &licensecore.AuthorityError{Code: "access_denied", Kind: licensecore.ErrAccessDenied}, MsgDenied},
		{"denied with words", &licensecore.AuthorityError{Code: "access_denied", Description: "Device limit reached", Kind: licensecore.ErrAccessDenied},
			MsgDenied + " The authorization server said: \u201cDevice limit reached\u201d"},
		{"code expired", &licensecore.AuthorityError{Code: "expired_token", Kind: licensecore.ErrDeviceCodeExpired}, MsgExpired},
		{"unknown oauth error", &licensecore.AuthorityError{Code: "slow_down_forever", Description: "server on fire", Kind: licensecore.ErrAuthorityBroken},
			"The authorization server gave an answer License Desk does not understand…"},
		{"clock", fmt.Errorf("refresh: %w", licensecore.ErrClockRollback), "This PC's clock is behind…"},
		{"bad signature", &licensecore.RejectedError{Kind: licensecore.ErrBadSignature, Cause: errors.New("ed25519: verification error")},
			"The authorization server sent a license token License Desk cannot trust…"},
		{"already running", licensecore.ErrAlreadyRunning, "License Desk is already running…"},
		{"unknown", errors.New("boom"), "Something went wrong (boom). Try again; if it keeps happening, contact support."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Explain(tt.err)
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Errorf("Explain = %q, want it to start with %q", got, prefix)
				}
			} else if got != tt.want {
				t.Errorf("Explain = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExplainShortensDetail(t *testing.T) {
	got := Explain(errors.New(strings.Repeat("x", 500)))
	if len([]rune(got)) > 200 || !strings.Contains(got, "…") {
		t.Errorf("unknown error not shortened: %d runes", len([]rune(got)))
	}
}

// sentinels names every exported sentinel of licensecore and
// licensecore/wire; TestExplainEverySentinel checks the list against their
// errors.go files, so a new sentinel without a sentence cannot slip by.
var sentinels = map[string]error{
	"ErrNotLicensed": licensecore.ErrNotLicensed, "ErrTokenInvalid": licensecore.ErrTokenInvalid,
	"ErrTokenExpired": licensecore.ErrTokenExpired, "ErrTokenNotYet": licensecore.ErrTokenNotYet,
	"ErrTokenTooLarge": licensecore.ErrTokenTooLarge, "ErrWrongAudience": licensecore.ErrWrongAudience,
	"ErrWrongIssuer": licensecore.ErrWrongIssuer, "ErrBadAlgorithm": licensecore.ErrBadAlgorithm,
	"ErrBadSignature": licensecore.ErrBadSignature, "ErrMalformedToken": licensecore.ErrMalformedToken,
	"ErrMissingClaim": licensecore.ErrMissingClaim, "ErrClockRollback": licensecore.ErrClockRollback,
	"ErrClosed": licensecore.ErrClosed, "ErrAlreadyRunning": licensecore.ErrAlreadyRunning,
	"ErrNotStored": licensecore.ErrNotStored, "ErrStoreCorrupt": licensecore.ErrStoreCorrupt,
	"ErrAuditTampered": licensecore.ErrAuditTampered, "ErrSchemaTooNew": licensecore.ErrSchemaTooNew,
	"ErrAuthorityDown": licensecore.ErrAuthorityDown, "ErrAuthorityBroken": licensecore.ErrAuthorityBroken,
	"ErrAccessDenied": licensecore.ErrAccessDenied, "ErrDeviceCodeExpired": licensecore.ErrDeviceCodeExpired,
	"ErrLicenseRevoked": licensecore.ErrLicenseRevoked, "ErrLicenseExpired": licensecore.ErrLicenseExpired,
	"ErrRefreshRejected": licensecore.ErrRefreshRejected, "ErrUnknownRequest": licensecore.ErrUnknownRequest,
	"ErrSwitchSameType": licensecore.ErrSwitchSameType, "ErrSwitchPending": licensecore.ErrSwitchPending,
	"ErrNoSwitchPending": licensecore.ErrNoSwitchPending, "ErrNoChallenge": licensecore.ErrNoChallenge,
	"ErrNoInstallCode": licensecore.ErrNoInstallCode, "ErrFileTooLarge": licensecore.ErrFileTooLarge,
	"ErrEntitlementTampered": licensecore.ErrEntitlementTampered, "ErrEntitlementForeign": licensecore.ErrEntitlementForeign,
	"ErrEntitlementReplayed": licensecore.ErrEntitlementReplayed, "ErrEntitlementExpired": licensecore.ErrEntitlementExpired,
	"ErrAdminRequired": licensecore.ErrAdminRequired, "ErrAdminExists": licensecore.ErrAdminExists,
	"ErrBadCredentials": licensecore.ErrBadCredentials, "ErrLoginThrottled": licensecore.ErrLoginThrottled,
	"ErrWeakPassword": licensecore.ErrWeakPassword, "ErrInvalidUserName": licensecore.ErrInvalidUserName,
	"ErrUnknownCustomer": licensecore.ErrUnknownCustomer, "ErrNoCustomerID": licensecore.ErrNoCustomerID,
	"ErrCustomerInUse": licensecore.ErrCustomerInUse, "ErrPoolLicenseUnavailable": licensecore.ErrPoolLicenseUnavailable,
	"ErrInstallConflict": licensecore.ErrInstallConflict, "ErrPoolRefused": licensecore.ErrPoolRefused,
	"ErrInstallUnlicensed": licensecore.ErrInstallUnlicensed, "ErrRequestStale": licensecore.ErrRequestStale, "ErrAuthorityBusy": licensecore.ErrAuthorityBusy,
	"ErrNotActivated":    licensecore.ErrNotActivated,
	"ErrWrongHolder":     licensecore.ErrWrongHolder,
	"ErrStoreKeyMissing": licensecore.ErrStoreKeyMissing, "ErrSecretsForeign": licensecore.ErrSecretsForeign,
	"ErrLicenseMoved": licensecore.ErrLicenseMoved, "ErrChainRevoked": licensecore.ErrChainRevoked,
	"ErrKeyMismatch": licensecore.ErrKeyMismatch, "ErrNoRoot": licensecore.ErrNoRoot,
	"ErrRootMismatch": licensecore.ErrRootMismatch, "ErrBadAuthorityURL": licensecore.ErrBadAuthorityURL,
	"wire.ErrBadRootKey": wire.ErrBadRootKey, "wire.ErrUntrustedKeySet": wire.ErrUntrustedKeySet,
	"wire.ErrBadDPoP": wire.ErrBadDPoP, "wire.ErrUnsignedAnswer": wire.ErrUnsignedAnswer,
	"wire.ErrInvalidKeySet": wire.ErrInvalidKeySet, "wire.ErrUnknownKey": wire.ErrUnknownKey,
	"wire.ErrMalformedAnswer": wire.ErrMalformedAnswer, "wire.ErrBadPoolRequest": wire.ErrBadPoolRequest,
	"wire.ErrCodeTypo": wire.ErrCodeTypo, "wire.ErrCodeInvalid": wire.ErrCodeInvalid,
	"wire.ErrResponseMismatch": wire.ErrResponseMismatch, "wire.ErrResponseCannotCarry": wire.ErrResponseCannotCarry,
	"wire.ErrRequestInvalid": wire.ErrRequestInvalid, "wire.ErrInvalidCustomerID": wire.ErrInvalidCustomerID,
}

// wireOnly are wire sentinels the screens never see: the client wraps them
// (a malformed answer is ErrAuthorityBroken) or only the authority meets
// them (a bad pool request).
var wireOnly = map[string]bool{"wire.ErrMalformedAnswer": true, "wire.ErrBadPoolRequest": true, "wire.ErrBadDPoP": true}

// TestExplainEverySentinel: every sentinel of licensecore and wire is in
// the list above, and each has a sentence composed here rather than its own
// text passed through.
func TestExplainEverySentinel(t *testing.T) {
	for _, f := range []struct{ file, prefix string }{{"../../licensecore/errors.go", ""}, {"../../licensecore/wire/errors.go", "wire."}} {
		parsed, err := parser.ParseFile(token.NewFileSet(), f.file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range parsed.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
						if _, ok := sentinels[f.prefix+n.Name]; !ok {
							t.Errorf("%s%s is missing from the sentinel list of this test", f.prefix, n.Name)
						}
					}
				}
			}
		}
	}
	for name, err := range sentinels {
		if wireOnly[name] {
			continue
		}
		got := Explain(fmt.Errorf("op: %w", err))
		if strings.HasPrefix(got, "Something went wrong") || strings.EqualFold(strings.TrimSuffix(got, "."), err.Error()) || !strings.HasSuffix(got, ".") {
			t.Errorf("%s: explained as %q", name, got)
		}
	}
}

// TestExplainTypedErrors: errors that carry a detail keep it in the sentence.
func TestExplainTypedErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&wire.CodeError{Code: "response", Group: 3, Reason: "'A' is not used in codes"}, "The response code has a typing mistake in group 3: 'A' is not used in codes."},
		{&wire.CodeError{Code: "challenge", Reason: "the check character does not match; check every character"}, "The challenge code has a typing mistake: the check character does not match; check every character."},
		{&wire.CustomerIDError{Input: "12345"}, `"12345" is not a valid Customer ID. It looks like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.`},
		{&licensecore.PoolLicenseError{LicenseID: "CAP-8", Err: licensecore.ErrPoolLicenseUnavailable}, "License CAP-8: The license is not available in the cloud pool any more; another server may have taken it. Refresh the list."},
		{&licensecore.AuthorityError{Code: wire.CodeInvalidGrant, Reason: wire.ReasonLicenseMoved, Description: "This license was moved to Back office 2 on 1 Dec 2026", Kind: licensecore.ErrLicenseMoved},
			"This license was moved to Back office 2 on 1 Dec 2026. Acquire a license for this PC, or ask your provider."},
	} {
		if got := Explain(tc.err); got != tc.want {
			t.Errorf("Explain(%v) =\n%q, want\n%q", tc.err, got, tc.want)
		}
	}
}
