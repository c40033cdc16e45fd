package licensecore

import (
	"math"
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

const oneDay = 24 * time.Hour

// renewalLicense has a renewal date at t0 and a 30-day token that expires
// well after every instant the renewal cases look at, so only the renewal
// date decides the state.
func renewalLicense() *License {
	return &License{
		ServerID:      "server-0001",
		LicenseID:     "lic-0001",
		RenewalDate:   t0,
		TokenIssuedAt: t0.Add(-400 * oneDay),
		TokenExpiry:   t0.Add(400 * oneDay),
	}
}

func TestEvaluateRenewalBoundaries(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		name string
		now  time.Time
		want State
	}{
		{"long before the window", t0.Add(-p.RenewalWindow - oneDay), Licensed},
		{"one second before the window opens", t0.Add(-p.RenewalWindow - time.Second), Licensed},
		{"exactly at the window start", t0.Add(-p.RenewalWindow), RequiresRenewal},
		{"inside the window", t0.Add(-p.RenewalWindow / 2), RequiresRenewal},
		{"one second before the renewal date", t0.Add(-time.Second), RequiresRenewal},
		{"one nanosecond before the renewal date", t0.Add(-time.Nanosecond), RequiresRenewal},
		{"exactly at the renewal date", t0, ExpiredRequiresRenewal},
		{"one second after the renewal date", t0.Add(time.Second), ExpiredRequiresRenewal},
		{"a year after the renewal date", t0.Add(365 * oneDay), ExpiredRequiresRenewal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := Evaluate(renewalLicense(), tc.now, p)
			if st.State != tc.want {
				t.Errorf("State = %v, want %v", st.State, tc.want)
			}
			if want := t0.Sub(tc.now); st.RenewalLeft != want {
				t.Errorf("RenewalLeft = %v, want %v", st.RenewalLeft, want)
			}
			if !st.HasRenewalDate() {
				t.Error("HasRenewalDate = false for a license with a renewal date")
			}
			if !st.At.Equal(tc.now) {
				t.Errorf("At = %v, want %v", st.At, tc.now)
			}
		})
	}
}

func TestEvaluateRenewalWindowIsPolicy(t *testing.T) {
	p := DefaultPolicy()
	p.RenewalWindow = 7 * oneDay
	now := t0.Add(-10 * oneDay) // inside the default 30 days, outside 7
	if got := Evaluate(renewalLicense(), now, p).State; got != Licensed {
		t.Errorf("with a 7-day window, 10 days before renewal: %v, want Licensed", got)
	}
	if got := Evaluate(renewalLicense(), now, DefaultPolicy()).State; got != RequiresRenewal {
		t.Errorf("with the default window, 10 days before renewal: %v, want Requires Renewal", got)
	}
}

func TestEvaluateWithoutRenewalDate(t *testing.T) {
	l := renewalLicense()
	l.RenewalDate = time.Time{}
	l.Type = wire.Perpetual
	for _, now := range []time.Time{t0.Add(-100 * 365 * oneDay), t0.Add(-time.Second), t0, t0.Add(time.Second), t0.Add(399 * oneDay)} {
		st := Evaluate(l, now, DefaultPolicy())
		if st.State != Licensed {
			t.Errorf("at %v: State = %v, want Licensed (no renewal date)", now, st.State)
		}
		if st.HasRenewalDate() || st.RenewalLeft != 0 {
			t.Errorf("at %v: HasRenewalDate = %v, RenewalLeft = %v for a license without one", now, st.HasRenewalDate(), st.RenewalLeft)
		}
	}
}

func TestEvaluateNilLicense(t *testing.T) {
	st := Evaluate(nil, t0, DefaultPolicy())
	if st.State != Unlicensed || st.Token != TokenNone || st.License != nil || st.HasRenewalDate() {
		t.Errorf("Evaluate(nil) = %+v, want Unlicensed without license or token", st)
	}
	if st.Severity() != 2 {
		t.Errorf("Severity of Unlicensed = %d, want 2", st.Severity())
	}
}

// tokenLicense has no renewal date and a token of the given lifetime that
// expires at t0.
func tokenLicense(lifetime time.Duration) *License {
	l := &License{ServerID: "server-0001", TokenExpiry: t0}
	if lifetime > 0 {
		l.TokenIssuedAt = t0.Add(-lifetime)
	}
	return l
}

func TestEvaluateTokenThresholds(t *testing.T) {
	p := DefaultPolicy()
	// The warning threshold is the shorter of TokenWarnBefore and
	// TokenWarnFraction of the lifetime (see Policy).
	fracOf := func(life time.Duration) time.Duration { return time.Duration(float64(life) * p.TokenWarnFraction) }
	long, short := 30*oneDay, 3*oneDay
	if fracOf(long) <= p.TokenWarnBefore || fracOf(short) >= p.TokenWarnBefore {
		t.Fatalf("fixture: want a lifetime on each side of the thresholds (%v, %v)", fracOf(long), fracOf(short))
	}
	cases := []struct {
		name     string
		lifetime time.Duration
		left     time.Duration // time to exp at evaluation
		want     TokenState
	}{
		{"long token, exactly TokenWarnBefore left", long, p.TokenWarnBefore, TokenOK},
		{"long token, one second under TokenWarnBefore", long, p.TokenWarnBefore - time.Second, TokenExpiringSoon},
		{"long token, fraction threshold left is fine", long, fracOf(long) - time.Second, TokenOK},
		{"short token, at half-life (normal refresh point)", short, short / 2, TokenOK},
		{"short token, under TokenWarnBefore but over the fraction", short, p.TokenWarnBefore - time.Second, TokenOK},
		{"short token, exactly the fraction left", short, fracOf(short), TokenOK},
		{"short token, one second under the fraction", short, fracOf(short) - time.Second, TokenExpiringSoon},
		{"unknown issue time, TokenWarnBefore applies", 0, p.TokenWarnBefore, TokenOK},
		{"unknown issue time, just under TokenWarnBefore", 0, p.TokenWarnBefore - time.Second, TokenExpiringSoon},
		{"one second before exp", short, time.Second, TokenExpiringSoon},
		{"exactly at exp", short, 0, TokenExpired},
		{"one second after exp", short, -time.Second, TokenExpired},
		{"long expired", short, -10 * oneDay, TokenExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(-tc.left)
			st := Evaluate(tokenLicense(tc.lifetime), now, p)
			if st.Token != tc.want {
				t.Errorf("Token = %v, want %v", st.Token, tc.want)
			}
			if st.TokenLeft != tc.left {
				t.Errorf("TokenLeft = %v, want %v", st.TokenLeft, tc.left)
			}
			if st.State != Licensed {
				t.Errorf("State = %v: the token must not change the license state", st.State)
			}
		})
	}
}

func TestEvaluateWithoutToken(t *testing.T) {
	st := Evaluate(&License{ServerID: "server-0001"}, t0, DefaultPolicy())
	if st.Token != TokenNone || st.TokenLeft != 0 {
		t.Errorf("Token = %v, TokenLeft = %v, want none", st.Token, st.TokenLeft)
	}
}

func TestEvaluateCopiesLicense(t *testing.T) {
	l := renewalLicense()
	st := Evaluate(l, t0.Add(-time.Hour), DefaultPolicy())
	l.ServerID = "changed"
	if st.License == l || st.License.ServerID != "server-0001" {
		t.Error("Status shares the caller's license; later changes leak into it")
	}
}

func TestSeverity(t *testing.T) {
	cases := []struct {
		name string
		st   Status
		want int
	}{
		{"licensed, token fine", Status{State: Licensed, Token: TokenOK}, 0},
		{"licensed, no token yet", Status{State: Licensed, Token: TokenNone}, 0},
		{"requires renewal", Status{State: RequiresRenewal, Token: TokenOK}, 1},
		{"token expiring soon", Status{State: Licensed, Token: TokenExpiringSoon}, 1},
		{"clock error", Status{State: Licensed, Token: TokenOK, ClockError: true}, 1},
		{"token expired", Status{State: Licensed, Token: TokenExpired}, 2},
		{"token expired while renewal due", Status{State: RequiresRenewal, Token: TokenExpired}, 2},
		{"expired license", Status{State: ExpiredRequiresRenewal, Token: TokenOK}, 2},
		{"expired license with clock error", Status{State: ExpiredRequiresRenewal, ClockError: true}, 2},
		{"unlicensed", Status{State: Unlicensed}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.Severity(); got != tc.want {
				t.Errorf("Severity() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Policy)
		ok     bool
	}{
		{"defaults", func(*Policy) {}, true},
		{"zero renewal window", func(p *Policy) { p.RenewalWindow = 0 }, true},
		{"negative renewal window", func(p *Policy) { p.RenewalWindow = -time.Second }, false},
		{"negative warn time", func(p *Policy) { p.TokenWarnBefore = -time.Second }, false},
		{"zero warn fraction", func(p *Policy) { p.TokenWarnFraction = 0 }, true},
		{"negative warn fraction", func(p *Policy) { p.TokenWarnFraction = -0.1 }, false},
		{"warn fraction 1", func(p *Policy) { p.TokenWarnFraction = 1 }, false},
		{"warn fraction NaN", func(p *Policy) { p.TokenWarnFraction = math.NaN() }, false},
		{"negative clock tolerance", func(p *Policy) { p.ClockTolerance = -time.Second }, false},
		{"leeway one minute", func(p *Policy) { p.Leeway = time.Minute }, true},
		{"leeway over a minute", func(p *Policy) { p.Leeway = time.Minute + time.Second }, false},
		{"negative leeway", func(p *Policy) { p.Leeway = -time.Second }, false},
		{"refresh fraction 0", func(p *Policy) { p.RefreshFraction = 0 }, false},
		{"refresh fraction 1", func(p *Policy) { p.RefreshFraction = 1 }, false},
		{"refresh fraction NaN", func(p *Policy) { p.RefreshFraction = math.NaN() }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			tc.change(&p)
			if err := p.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestStateStrings(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range []interface{ String() string }{Unlicensed, Licensed, RequiresRenewal, ExpiredRequiresRenewal, TokenNone, TokenOK, TokenExpiringSoon, TokenExpired} {
		str := s.String()
		if strings.TrimSpace(str) == "" || seen[str] {
			t.Errorf("%#v.String() = %q: empty or not unique", s, str)
		}
		seen[str] = true
	}
	if Unlicensed.String() != State(99).String() || TokenNone.String() != TokenState(99).String() {
		t.Error("unknown states must read like the zero state")
	}
}
