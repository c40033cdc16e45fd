package authority

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strings"
)

// userCodeAlphabet has no vowels (no words), no digits and no look-alikes
// (RFC 8628 §6.1): 20 letters, 8 of them give 20^8 ≈ 2^34.6 codes.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

const (
	userCodeLen = 8
	// maxUserCodeInput bounds what a person may type, punctuation included.
	maxUserCodeInput = 64
)

// newUserCode draws 8 uniform letters and returns them without punctuation.
func newUserCode() (string, error) {
	var b strings.Builder
	n := big.NewInt(int64(len(userCodeAlphabet)))
	for range userCodeLen {
		i, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", err
		}
		b.WriteByte(userCodeAlphabet[i.Int64()])
	}
	return b.String(), nil
}

// formatUserCode shows a normalised code as XXXX-XXXX.
func formatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// normalizeUserCode turns what a person typed into the canonical 8 letters:
// case is ignored, and so are ASCII spaces and punctuation (the dash, a
// stray dot). Anything else — digits, vowels, other letters, non-ASCII — makes
// the input invalid instead of being dropped, so that no two different
// strings of real letters ever collide.
func normalizeUserCode(in string) (string, bool) {
	if len(in) > maxUserCodeInput {
		return "", false
	}
	out := make([]byte, 0, userCodeLen)
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z':
		case c == ' ' || c == '\t' || (c > ' ' && c < 0x7f && !isAlnum(c)):
			continue
		default:
			return "", false
		}
		if strings.IndexByte(userCodeAlphabet, c) < 0 || len(out) == userCodeLen {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != userCodeLen {
		return "", false
	}
	return string(out), true
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// secretHash is the storage key of a bearer secret (device code, refresh
// token).
func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
