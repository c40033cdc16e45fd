package licensecore

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestClaimNames(t *testing.T) {
	if len(claimNames) > 64 {
		t.Fatalf("%d claim names; checkClaimNames tracks at most 64", len(claimNames))
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "lid", "ltp", "fea", "cap", "ins", "cnf"} {
		if _, ok := claimNames[name]; !ok {
			t.Errorf("claim %q missing from claimNames", name)
		}
	}
	seen := map[int]string{}
	for name, i := range claimNames {
		if name == "" || strings.ToLower(name) != name {
			t.Errorf("odd claim name %q", name)
		}
		if other, dup := seen[i]; dup {
			t.Errorf("claims %q and %q share index %d", name, other, i)
		}
		seen[i] = name
	}
}

// topLevelNames lists the member names of a JSON object, duplicates
// included, with encoding/json's tokenizer.
func topLevelNames(data []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		names = append(names, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	return names, true
}

// FuzzCheckClaimNames checks the scanner against encoding/json's own
// reading of the names: refused exactly when a name folds to one of ours
// without being it, or one of ours is given twice.
func FuzzCheckClaimNames(f *testing.F) {
	for _, s := range []string{
		`{"exp":1,"sub":"a"}`, `{"EXP":1}`, `{"exp":1,"exp":2}`, `{"\u0065xp":1,"exp":2}`,
		`{"a":{"EXP":1},"b":["Sub",{"exp":1}]}`, `{"ſub":"x"}`, `{"x\"y":"exp","s\\":1}`, `{"cnf":{"jkt":"x"},"CNF":null}`,
		`{ "exp" : 1 , "Exp" : 2 }`, `{"fea":["a","b"],"unknown":"EXP"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj map[string]json.RawMessage
		if !json.Valid(data) || json.Unmarshal(data, &obj) != nil || obj == nil {
			return // checkClaimNames only sees payloads that decoded as an object
		}
		names, ok := topLevelNames(data)
		if !ok {
			t.Fatalf("tokenizer failed on valid JSON %q", data)
		}
		want := false
		count := map[string]int{}
		for _, n := range names {
			if _, known := claimNames[n]; known {
				if count[n]++; count[n] > 1 {
					want = true
				}
				continue
			}
			for known := range claimNames {
				if strings.EqualFold(n, known) {
					want = true
				}
			}
		}
		if err := checkClaimNames(data); (err != nil) != want {
			t.Fatalf("checkClaimNames(%q) = %v, want refused %v (names %q)", data, err, want, names)
		}
	})
}
