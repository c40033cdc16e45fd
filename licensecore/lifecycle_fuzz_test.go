package licensecore

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestChangedFields(t *testing.T) {
	base := License{Type: Subscription, Features: []string{"xms", "pos"}, Capacity: 3, Customer: "Shop",
		RenewalDate: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	cases := []struct {
		name string
		edit func(*License)
		want []Change
	}{
		{"nothing", func(*License) {}, nil},
		{"reordered features", func(l *License) { l.Features = []string{"pos", "xms"} }, nil},
		{"token facts are not entitlements", func(l *License) { l.TokenID, l.TokenExpiry = "t2", time.Now() }, nil},
		{"module added", func(l *License) { l.Modules = []string{"kds"} }, []Change{{FieldModules, "", "kds"}}},
		{"users and capacity", func(l *License) { l.Users, l.Capacity = 4, 0 },
			[]Change{{FieldUsers, "", "4"}, {FieldCapacity, "3", ""}}},
		{"to perpetual", func(l *License) { l.Type, l.RenewalDate = Perpetual, time.Time{} },
			[]Change{{FieldType, "subscription", "perpetual"}, {FieldRenewalDate, "2026-01-02", ""}}},
		{"hub and customer", func(l *License) { l.HubServerName, l.Customer = "hub-2", "Shop Ltd" },
			[]Change{{FieldCustomer, "Shop", "Shop Ltd"}, {FieldHubServerName, "", "hub-2"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			b.Features = append([]string(nil), base.Features...)
			tc.edit(&b)
			if got := changedFields(base, b); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzDecodeAnswer feeds arbitrary answers of the lifecycle endpoints to
// the decoder: it must not panic, and every failure must name a sentinel
// the screens can explain.
func FuzzDecodeAnswer(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{200, `{"result":"valid","licence_id":"L","type":"perpetual","checked_at":"2026-01-01T00:00:00Z"}`},
		{200, `{"result":"valid","checked_at":"yesterday"}`},
		{400, `{"error":"invalid_grant","error_description":"unknown refresh token"}`},
		{400, `{"error":"access_denied","error_description":"license revoked"}`},
		{404, `{"error":"invalid_request"}`},
		{500, `<html>oops</html>`},
		{200, ``},
		{200, `null`},
		{400, `{"error":7}`},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	sentinels := []error{ErrAuthorityBroken, ErrTokenInvalid, ErrLicenseRevoked, ErrAccessDenied, ErrNotFound}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var out verifyReply
		err := decodeAnswer("/licence/verify", status, body, ErrTokenInvalid, &out)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("status %d accepted", status)
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %v wraps no sentinel", err)
	})
}
