package screens

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"licensedesk/licensecore"
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
		{"denied", &licensecore.AuthorityError{Code: "access_denied", Kind: licensecore.ErrAccessDenied}, msgDenied},
		{"denied with words", &licensecore.AuthorityError{Code: "access_denied", Description: "Device limit reached", Kind: licensecore.ErrAccessDenied},
			msgDenied + " The authorization server said: \u201cDevice limit reached\u201d"},
		{"code expired", &licensecore.AuthorityError{Code: "expired_token", Kind: licensecore.ErrDeviceCodeExpired}, msgExpired},
		{"unknown oauth error", &licensecore.AuthorityError{Code: "slow_down_forever", Description: "server on fire", Kind: licensecore.ErrAuthorityBroken},
			"The authorization server gave an answer License Desk does not understand…"},
		{"clock", fmt.Errorf("refresh: %w", licensecore.ErrClockRollback), "This PC's clock is behind…"},
		{"bad signature", &licensecore.TokenError{Kind: licensecore.ErrBadSignature, Cause: errors.New("ed25519: verification error")},
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

// TestExplainEverySentinel keeps Explain in step with licensecore: a new
// sentinel without a sentence would reach people as "Something went wrong".
func TestExplainEverySentinel(t *testing.T) {
	for _, err := range []error{
		licensecore.ErrNotLicensed, licensecore.ErrTokenInvalid, licensecore.ErrTokenExpired,
		licensecore.ErrTokenNotYet, licensecore.ErrUnknownKey, licensecore.ErrTokenTooLarge,
		licensecore.ErrClockRollback, licensecore.ErrClosed, licensecore.ErrAlreadyRunning,
		licensecore.ErrStoreCorrupt, licensecore.ErrAuditTampered, licensecore.ErrSchemaTooNew,
		licensecore.ErrInvalidKeySet, licensecore.ErrWrongAudience, licensecore.ErrWrongIssuer,
		licensecore.ErrBadAlgorithm, licensecore.ErrBadSignature, licensecore.ErrMalformedToken,
		licensecore.ErrMissingClaim, licensecore.ErrAuthorityDown, licensecore.ErrAuthorityBroken,
		licensecore.ErrAccessDenied, licensecore.ErrDeviceCodeExpired, licensecore.ErrLicenseRevoked,
		licensecore.ErrLicenseExpired, licensecore.ErrRefreshRejected, licensecore.ErrAdminRequired,
		licensecore.ErrBadCredentials, licensecore.ErrLoginThrottled, licensecore.ErrWeakPassword,
		licensecore.ErrInvalidUserName, licensecore.ErrAdminExists,
	} {
		// Token rejections reach the screens wrapped in a TokenError.
		wrapped := fmt.Errorf("op: %w", err)
		if isTokenKind(err) {
			wrapped = &licensecore.TokenError{Kind: err}
		}
		if got := Explain(wrapped); strings.HasPrefix(got, "Something went wrong") {
			t.Errorf("no sentence for %q", err)
		}
	}
}

func isTokenKind(err error) bool {
	for _, k := range []error{licensecore.ErrUnknownKey, licensecore.ErrTokenTooLarge, licensecore.ErrWrongAudience,
		licensecore.ErrWrongIssuer, licensecore.ErrBadAlgorithm, licensecore.ErrBadSignature,
		licensecore.ErrMalformedToken, licensecore.ErrMissingClaim} {
		if err == k {
			return true
		}
	}
	return false
}

func TestExplainPlainSentinels(t *testing.T) {
	for _, err := range plainSentinels {
		got := Explain(fmt.Errorf("%w: group 3", err))
		if !strings.HasPrefix(got, strings.ToUpper(err.Error()[:1])) || !strings.Contains(got, "group 3") || !strings.HasSuffix(got, ".") {
			t.Errorf("%q explained as %q", err, got)
		}
	}
}
