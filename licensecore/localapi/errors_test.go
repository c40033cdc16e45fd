package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// TestEverySentinelHasACode parses the errors.go files of licensecore,
// wire and this package: each exported sentinel must have a code, and
// codes must be unique.
func TestEverySentinelHasACode(t *testing.T) {
	byText := map[string]string{}
	for _, c := range codes {
		if prev, dup := byText[c.err.Error()]; dup {
			t.Errorf("codes %q and %q share a sentinel text", prev, c.code)
		}
		byText[c.err.Error()] = c.code
	}
	if len(byCode) != len(codes) {
		t.Errorf("%d codes for %d entries: a code is used twice", len(byCode), len(codes))
	}
	for _, file := range []string{"../errors.go", "../wire/errors.go", "errors.go"} {
		parsed, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		ast.Inspect(parsed, func(node ast.Node) bool {
			spec, ok := node.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if i >= len(spec.Values) {
					continue
				}
				call, ok := spec.Values[i].(*ast.CallExpr)
				if !name.IsExported() || !strings.HasPrefix(name.Name, "Err") || !ok || len(call.Args) != 1 {
					continue
				}
				text, err := strconv.Unquote(call.Args[0].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				n++
				if _, ok := byText[text]; !ok {
					t.Errorf("%s: %s has no code in codes", file, name.Name)
				}
			}
			return false
		})
		if n < 5 {
			t.Errorf("%s: found only %d sentinels; has the file changed shape?", file, n)
		}
	}
}

// roundTrip sends err through the wire shape as an answer would.
func roundTrip(t *testing.T, err error) *Error {
	t.Helper()
	b, status := encodeError(err)
	raw, jerr := json.Marshal(b)
	if jerr != nil {
		t.Fatal(jerr)
	}
	var back errorBody
	if jerr := json.Unmarshal(raw, &back); jerr != nil {
		t.Fatal(jerr)
	}
	return decodeError(back, status)
}

func TestErrorRoundTrip(t *testing.T) {
	for _, c := range codes {
		err := fmt.Errorf("op: %w", c.err)
		got := roundTrip(t, err)
		if !errors.Is(got, c.err) || got.Error() != err.Error() || got.Code != c.code || got.Status != c.status {
			t.Errorf("%s: round trip = %q (%s, %d), is %v", c.code, got, got.Code, got.Status, errors.Is(got, c.err))
		}
		if c.err != ErrInternal && explain(got) != explain(err) {
			t.Errorf("%s: explained as %q, in process %q", c.code, explain(got), explain(err))
		}
	}
	typed := []error{
		&licensecore.RejectedError{Kind: licensecore.ErrEntitlementForeign, Cause: errors.New("install code differs")},
		fmt.Errorf("refresh: %w", &licensecore.AuthorityError{Code: wire.CodeInvalidGrant, Reason: wire.ReasonLicenseMoved,
			Description: "This license was moved to Back office 2 on 1 Dec 2026", Kind: licensecore.ErrLicenseMoved}),
		&licensecore.PoolLicenseError{LicenseID: "CAP-8", Err: licensecore.ErrPoolLicenseUnavailable},
		&licensecore.PoolLicenseError{LicenseID: "CAP-9", Err: &licensecore.AuthorityError{Code: wire.CodeNotAvailable, Kind: licensecore.ErrPoolLicenseUnavailable}},
		&wire.CodeError{Code: "response", Group: 3, Reason: "'A' is not used in codes"},
		&wire.CustomerIDError{Input: "12345"},
		fmt.Errorf("%w: %w", licensecore.ErrAuthorityDown, licensecore.ErrAuthorityBroken),
		errors.New("something unforeseen"),
	}
	for _, err := range typed {
		got := roundTrip(t, err)
		if got.Error() != err.Error() || explain(got) != explain(err) {
			t.Errorf("%v: round trip %q explained %q, in process %q", err, got, explain(got), explain(err))
		}
	}
	var ae *licensecore.AuthorityError
	if got := roundTrip(t, typed[1]); !errors.As(got, &ae) || ae.Reason != wire.ReasonLicenseMoved || !errors.Is(got, licensecore.ErrLicenseMoved) {
		t.Errorf("authority error lost: %+v", ae)
	}
	var pe *licensecore.PoolLicenseError
	if got := roundTrip(t, typed[3]); !errors.As(got, &pe) || pe.LicenseID != "CAP-9" || !errors.As(got, &ae) || ae.Code != wire.CodeNotAvailable {
		t.Errorf("pool license error lost: %+v %+v", pe, ae)
	}
	if got := roundTrip(t, typed[6]); !errors.Is(got, licensecore.ErrAuthorityDown) || !errors.Is(got, licensecore.ErrAuthorityBroken) {
		t.Errorf("a double wrap lost a sentinel: %v", got)
	}
	if got := decodeError(errorBody{Code: "from_a_newer_agent", Message: "new"}, 500); !errors.Is(got, ErrInternal) || got.Error() != "new" {
		t.Errorf("unknown code = %v", got)
	}
}

// TestBadRequests: malformed requests get a 400 in the error shape, never
// a panic or a plain-text answer.
func TestBadRequests(t *testing.T) {
	a := startAgent(t, time.Hour)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/verify", "{", 400, "bad_request"},
		{"POST", "/v1/verify", `{"token":"x","extra":1}`, 400, "bad_request"},
		{"POST", "/v1/verify", `{"token":"x"} {"token":"y"}`, 400, "bad_request"},
		{"POST", "/v1/verify", ``, 400, "bad_request"},
		{"POST", "/v1/verify", `{}`, 400, "bad_request"},
		{"POST", "/v1/verify", `{"token":"` + strings.Repeat("a", maxBody) + `"}`, 400, "bad_request"},
		{"POST", "/v1/admin/login", `[1,2]`, 400, "bad_request"},
		{"GET", "/v1/status?after=x", "", 400, "bad_request"},
		{"GET", "/v1/status?after=1&wait=soon", "", 400, "bad_request"},
		{"GET", "/v1/nothing", "", 404, "no_route"},
		{"DELETE", "/v1/status", "", 404, "no_route"},
		{"POST", "/v1/device/complete", `{"user_code":"NOPE-NOPE"}`, 404, "unknown_authorization"},
		{"POST", "/v1/license/remove", `{}`, 401, "admin_required"},
		{"GET", "/v1/token", "", 404, "not_licensed"},
	} {
		t.Run(tc.method+tc.path+tc.body[:min(len(tc.body), 12)], func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://licensedesk"+tc.path, strings.NewReader(tc.body))
			resp, err := a.c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b errorBody
			if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != tc.status || b.Code != tc.code || b.Message == "" {
				t.Fatalf("%s %s = %d %+v (%v), want %d %s", tc.method, tc.path, resp.StatusCode, b, err, tc.status, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.c.Token(ctx, "", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}
