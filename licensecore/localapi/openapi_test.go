package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"licensedesk/licensecore"
)

// The activation answer is NDJSON; its last line is checked against the
// schema (the progress lines are a subset of it).
func init() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		raw, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
		var last any
		return last, json.Unmarshal(lines[len(lines)-1], &last)
	})
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: every served route is documented and every
// documented route is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range routes {
		served[rt.method+" "+rt.path] = true
	}
	diff := func(a, b map[string]bool) (out []string) {
		for k := range a {
			if !b[k] {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	if d := diff(served, documented); len(d) > 0 {
		t.Errorf("served but not in openapi.yaml: %v", d)
	}
	if d := diff(documented, served); len(d) > 0 {
		t.Errorf("in openapi.yaml but not served: %v", d)
	}
}

// validating checks every request and answer that passes against the
// document.
type validating struct {
	t      *testing.T
	next   http.RoundTripper
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	check := req.Clone(context.Background())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, rerr := v.router.FindRoute(check)
	if rerr != nil {
		v.t.Errorf("%s %s: %v", req.Method, req.URL.Path, rerr)
		return resp, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		v.t.Errorf("request %s %s does not match openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		v.t.Errorf("answer %d of %s %s does not match openapi.yaml: %v\n%s", resp.StatusCode, req.Method, req.URL.Path, err, body)
	}
	v.mu.Lock()
	v.seen[req.Method+" "+req.URL.Path] = true
	v.mu.Unlock()
	return resp, nil
}

// TestOpenAPIAnswers validates real requests and answers of a licensed
// agent against the document.
func TestOpenAPIAnswers(t *testing.T) {
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, time.Hour)
	v := &validating{t: t, next: a.c.hc.Transport, router: router, seen: map[string]bool{}}
	c := NewClient(&http.Client{Transport: v}, "http://licensedesk")
	ctx := context.Background()

	_, _ = c.Token(ctx, "", 0) // an error answer: not licensed yet
	st := a.license(t)
	tok, _ := c.Token(ctx, "", 0)
	_, _ = c.Token(ctx, tok.ID, time.Second)
	_, _, _ = c.WaitStatus(ctx, 0, time.Second)
	_, _ = c.Info(ctx)
	_, _ = c.JWKS(ctx)
	_, _ = c.VerifyToken(ctx, VerifyRequest{Token: tok.Token})
	_, _ = c.VerifyToken(ctx, VerifyRequest{Token: "x.y.z"})
	_, _ = c.RefreshNow(ctx)
	_, _, _ = c.DownloadLicense(ctx)
	_, _ = c.Verify(ctx)
	c.PendingSwitch()
	_, _, _ = c.CheckSwitch(ctx)
	_, _ = c.GetChallenge()
	_, _ = c.LicenseRequest("ACC-1", "SER-1")
	_, _ = c.HasAdministrator()
	_ = c.Remove(ctx, nil, licensecore.RemoveOptions{})
	_ = c.CreateAdministrator("root", "correct horse")
	sess, err := c.AdminLogin("root", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.RequestSwitch(ctx, sess, "perpetual")
	_, _ = c.ApplyResponse(ctx, sess, "ABCD")
	_, _ = c.ImportEntitlement(ctx, sess, []byte("{}"))
	_, _ = c.Account()
	_, _ = c.SetCustomerID(ctx, sess, "not-a-customer-id")
	_, _ = c.PoolLicenses(ctx)
	_, _ = c.ActivatePool(ctx, sess, []string{"CAP-1"}, nil)
	_, _ = c.TransferToPool(ctx, sess, nil)
	_, _ = c.ActivatedLicenses()
	_, _ = c.TotalCapacity()
	_, _ = c.PlanTransfer(nil)
	_, _ = c.StartDeviceAuth(ctx)
	_, _ = c.CompleteDeviceAuth(ctx, &licensecore.DeviceAuthorization{UserCode: "NONE-NONE"})
	a.srv.Notify("License token expires soon", "in 2 hours")
	_, _, _ = c.Notices(ctx, 0, time.Second)
	set, _ := c.Settings(ctx)
	set.TokenWarnHours = 12
	_ = c.SaveSettings(ctx, set)
	_ = c.ChangeAuthority(ctx, sess, "http://127.0.0.1:1", nil, false)
	_ = c.Stop(ctx)
	_ = c.AdminLogout(sess)
	resp, err := c.hc.Get("http://licensedesk/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st.License == nil {
		t.Fatal("no license")
	}
	var missed []string
	for _, rt := range routes {
		if !v.seen[rt.method+" "+rt.path] {
			missed = append(missed, rt.method+" "+rt.path)
		}
	}
	if len(missed) > 0 {
		t.Errorf("routes not exercised: %s", strings.Join(missed, ", "))
	}
}
