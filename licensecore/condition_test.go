package licensecore

import (
	"slices"
	"testing"
	"time"
)

// conditionLicense is healthy at t0: a 3-day token with 2 days left and a
// renewal date 200 days away.
func conditionLicense() *License {
	return &License{
		ServerID:      "server-0001",
		LicenseID:     "lic-0001",
		RenewalDate:   t0.Add(200 * oneDay),
		TokenIssuedAt: t0.Add(-oneDay),
		TokenExpiry:   t0.Add(2 * oneDay),
	}
}

func TestConditionWorstLeads(t *testing.T) {
	p := DefaultPolicy()
	eval := func(edit func(*License), clockError bool) Status {
		l := conditionLicense()
		if edit != nil {
			edit(l)
		}
		st := Evaluate(l, t0, p)
		st.ClockError = clockError
		return st
	}
	renewalSoon := func(l *License) { l.RenewalDate = t0.Add(18 * oneDay) }
	tests := []struct {
		name string
		st   Status
		want []Condition
	}{
		{"healthy", eval(nil, false), []Condition{CondOK}},
		{"unlicensed", Evaluate(nil, t0, p), []Condition{CondUnlicensed}},
		{"renewal due", eval(renewalSoon, false), []Condition{CondRenewalDue}},
		// The token's minutes beat the renewal's days.
		{"token minutes left and renewal due", eval(func(l *License) {
			renewalSoon(l)
			l.TokenExpiry = t0.Add(40 * time.Second)
		}, false), []Condition{CondTokenExpiring, CondRenewalDue}},
		{"token expired and renewal due", eval(func(l *License) {
			renewalSoon(l)
			l.TokenExpiry = t0.Add(-time.Minute)
		}, false), []Condition{CondTokenExpired, CondRenewalDue}},
		{"clock error on a healthy license", eval(nil, true), []Condition{CondClockError}},
		{"renewal passed and token expired", eval(func(l *License) {
			l.RenewalDate = t0.Add(-oneDay)
			l.TokenExpiry = t0.Add(-oneDay)
		}, true), []Condition{CondExpired, CondTokenExpired, CondClockError}},
		{"offline window nearly over", eval(func(l *License) {
			l.Offline, l.OfflineSince = true, t0.Add(-25*oneDay)
		}, false), []Condition{CondOfflineExpiring}},
		{"offline window over", eval(func(l *License) {
			l.Offline, l.OfflineSince = true, t0.Add(-31*oneDay)
		}, false), []Condition{CondExpired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.Conditions(); !slices.Equal(got, tt.want) {
				t.Errorf("Conditions() = %v, want %v", got, tt.want)
			}
			if got := tt.st.Condition(); got != tt.want[0] {
				t.Errorf("Condition() = %v, want %v", got, tt.want[0])
			}
			if got, want := tt.st.Severity(), tt.want[0].Severity(); got != want {
				t.Errorf("Severity() = %d, want %d", got, want)
			}
		})
	}
}

func TestConditionSeverityOrder(t *testing.T) {
	want := map[Condition]int{CondOK: 0, CondRenewalDue: 1, CondOfflineExpiring: 1, CondTokenExpiring: 1,
		CondClockError: 1, CondTokenExpired: 2, CondExpired: 2, CondUnlicensed: 2}
	for c, sev := range want {
		if c.Severity() != sev {
			t.Errorf("%v.Severity() = %d, want %d", c, c.Severity(), sev)
		}
		if c.String() == "unknown" {
			t.Errorf("condition %d has no name", c)
		}
	}
}

// facts are the parts of a status that change with time alone.
type facts struct {
	State           State
	Token           TokenState
	OfflineDaysLeft int
	OfflineDays     int
	OfflineExpiring bool
}

func factsOf(st Status) facts {
	return facts{st.State, st.Token, st.OfflineDaysLeft, st.OfflineDays, st.OfflineExpiring}
}

// TestNextChange walks a license through its life from boundary to
// boundary: at each NextChange the evaluated facts differ from those just
// before it, and nothing changes in between.
func TestNextChange(t *testing.T) {
	p := DefaultPolicy()
	lics := map[string]*License{
		"online": conditionLicense(),
		"renewal soon": func() *License {
			l := conditionLicense()
			l.RenewalDate = t0.Add(40 * oneDay)
			l.TokenExpiry = t0.Add(60 * oneDay)
			l.TokenIssuedAt = t0
			return l
		}(),
		"offline": func() *License {
			l := conditionLicense()
			l.Offline, l.OfflineSince = true, t0.Add(-20*oneDay-3*time.Hour)
			l.TokenExpiry = t0.Add(90 * oneDay)
			return l
		}(),
	}
	for name, l := range lics {
		t.Run(name, func(t *testing.T) {
			at, changes := t0, 0
			for range 100 {
				st := Evaluate(l, at, p)
				next := st.NextChange(p)
				if next.IsZero() {
					break
				}
				if !next.After(at) {
					t.Fatalf("NextChange %v is not after %v", next, at)
				}
				before := factsOf(Evaluate(l, next.Add(-time.Nanosecond), p))
				if before != factsOf(st) {
					t.Fatalf("facts changed before NextChange %v: %+v → %+v", next, factsOf(st), before)
				}
				if mid := at.Add(next.Sub(at) / 2); factsOf(Evaluate(l, mid, p)) != factsOf(st) {
					t.Fatalf("facts changed between %v and %v", at, next)
				}
				if after := factsOf(Evaluate(l, next, p)); after == before {
					t.Fatalf("nothing changed at NextChange %v: %+v", next, after)
				}
				at, changes = next, changes+1
			}
			if changes < 3 {
				t.Errorf("only %d changes in the license's life", changes)
			}
		})
	}
	t.Run("token warning then expiry", func(t *testing.T) {
		l := conditionLicense() // 3-day token: warned at 25% = 18 h before expiry
		st := Evaluate(l, t0, p)
		if got, want := st.NextChange(p), l.TokenExpiry.Add(-18*time.Hour+time.Nanosecond); !got.Equal(want) {
			t.Errorf("NextChange = %v, want %v", got, want)
		}
		st = Evaluate(l, l.TokenExpiry.Add(-time.Minute), p)
		if got := st.NextChange(p); !got.Equal(l.TokenExpiry) {
			t.Errorf("NextChange a minute before expiry = %v, want the expiry %v", got, l.TokenExpiry)
		}
	})
	if got := Evaluate(nil, t0, p).NextChange(p); !got.IsZero() {
		t.Errorf("unlicensed NextChange = %v, want zero", got)
	}
}
