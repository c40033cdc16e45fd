package licensecore

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

func TestChangedFields(t *testing.T) {
	base := License{Type: wire.Subscription, Features: []string{"xms", "pos"}, Capacity: 3, Customer: "Shop",
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
		{"to perpetual", func(l *License) { l.Type, l.RenewalDate = wire.Perpetual, time.Time{} },
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

// FuzzDecodeError feeds arbitrary error answers of the authority to the
// one decoder: it must not panic, and every result must name a sentinel
// the screens can explain.
func FuzzDecodeError(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{200, `{"result":"valid","licence_id":"L","type":"perpetual","checked_at":"2026-01-01T00:00:00Z"}`},
		{200, `{"result":"valid","checked_at":"yesterday"}`},
		{400, `{"error":"invalid_grant","error_description":"unknown refresh token"}`},
		{400, `{"error":"access_denied","error_description":"license revoked","reason":"licence_revoked"}`},
		{400, `{"error":"invalid_grant","reason":"licence_expired"}`},
		{404, `{"error":"not_found"}`},
		{500, `<html>oops</html>`},
		{200, ``},
		{200, `null`},
		{400, `{"error":7}`},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	sentinels := []error{ErrAuthorityBroken, ErrTokenInvalid, ErrLicenseRevoked, ErrLicenseExpired, ErrAccessDenied, ErrDeviceCodeExpired,
		ErrUnknownRequest, ErrUnknownCustomer, ErrPoolLicenseUnavailable, ErrInstallConflict, ErrCustomerInUse}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := decodeError("/licence/verify", status, body, ErrTokenInvalid, ErrAuthorityBroken)
		if err == nil {
			t.Fatal("an error answer decoded to no error")
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %v wraps no sentinel", err)
	})
}

// TestDecodeErrorKeys: the decoder keys on the wire's codes and reasons;
// the description's words never change the outcome.
func TestDecodeErrorKeys(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		grant      error
		want       error
	}{
		{"reason revoked", `{"error":"access_denied","reason":"licence_revoked"}`, ErrRefreshRejected, ErrLicenseRevoked},
		{"reason expired", `{"error":"invalid_grant","reason":"licence_expired"}`, ErrRefreshRejected, ErrLicenseExpired},
		{"words alone say revoked", `{"error":"access_denied","error_description":"license revoked"}`, ErrRefreshRejected, ErrAccessDenied},
		{"words alone say expired", `{"error":"invalid_grant","error_description":"license expired"}`, ErrRefreshRejected, ErrRefreshRejected},
		{"invalid_grant at verify", `{"error":"invalid_grant"}`, ErrTokenInvalid, ErrTokenInvalid},
		{"not found", `{"error":"not_found"}`, ErrRefreshRejected, ErrUnknownRequest},
		{"pool code", `{"error":"install_conflict"}`, ErrPoolRefused, ErrInstallConflict},
		{"unknown code", `{"error":"teapot"}`, ErrRefreshRejected, ErrAuthorityBroken},
		{"html", `<html>502</html>`, ErrRefreshRejected, ErrAuthorityBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeError("/token", 400, []byte(tc.body), tc.grant, ErrAuthorityBroken)
			if !errors.Is(err, tc.want) {
				t.Fatalf("%s → %v, want %v", tc.body, err, tc.want)
			}
			if tc.want != ErrLicenseRevoked && errors.Is(err, ErrLicenseRevoked) {
				t.Fatalf("%s read as revoked", tc.body)
			}
		})
	}
}
