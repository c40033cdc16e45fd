package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Challenge / response: upgrading the license of a PC that has no browser.
//
// The PC shows a challenge code; the person types it on the authority's
// /upgrade page (on any PC with a browser, or reads it out over the phone),
// gets a response code back and types it into License Desk, which checks
// the authority's signature and applies the entitlement it carries.
//
// Both codes use CodeAlphabet (28 characters, no vowels, no 0/O or 1/I)
// and Damm check characters over a totally anti-symmetric quasigroup of
// order 28 (dammOp), so every single mistyped character and every swap of
// two adjacent characters, the check character included, is caught.
//
// # Challenge code, version 1
//
// 16 digits and one check character, shown as XXXX-XXXX-XXXX-XXXX-C. The
// digits are a 76-bit number, most significant digit first:
//
//	bits 75-72  version (1)
//	bits 71-56  binding: the first two bytes of SHA-256("licensedesk-challenge\x00" + install code)
//	bits 55-0   nonce: 7 random bytes
//
// The check character is the Damm check over the 16 digits.
//
// # Response code, version 1
//
// 76 bytes, written as a 608-bit number in 128 digits (most significant
// first), cut into 32 groups of 4 digits; each group is followed by its own
// Damm check character computed over (group number / 28, group number mod
// 28, the 4 digits), so a typo is reported with its group and a group typed
// in the wrong place is caught too. Shown as 32 groups of 5: XXXXC-XXXXC-…
//
//	byte 0       version (high nibble, 1) | key tag (low nibble: high nibble of SHA-256(kid)[0])
//	bytes 1-3    issue time, minutes since 2024-01-01T00:00Z, big-endian (until 2055)
//	bytes 4-5    capacity, big-endian uint16
//	bytes 6-7    users, big-endian uint16
//	bytes 8-9    renewal date, days since 1970-01-01 UTC, big-endian uint16; 0 = none
//	bytes 10-11  features: bit i (from the least significant) = ResponseFeatures()[i]
//	bytes 12-75  Ed25519 signature over responseMessage:
//	             "licensedesk-response-v1\x00" || the 16 challenge digits || 0x00 ||
//	             server ID || 0x00 || license ID || 0x00 || bytes 0-11
//
// The challenge, the server ID and the license ID are signed but not sent:
// the PC knows them, and a response made for any other challenge, server or
// license fails the signature check. 64 of the 76 bytes are the signature,
// the minimum Ed25519 allows.

// CodeAlphabet is the alphabet of install codes and of the challenge and
// response codes: no vowels (no accidental words) and no 0/O, 1/I.
const CodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"

// Sizes of the codes.
const (
	challengeDigits   = 16
	challengeBits     = 76
	challengeVersion  = 1
	responseBytes     = 76
	responseDigits    = 128
	responseGroup     = 4 // digits per group, plus one check character
	responseVersion   = 1
	responseSignedLen = 12
	// MaxCodeInput bounds what ParseChallenge and ParseResponse read.
	MaxCodeInput = 512
)

// responseEpoch is the zero of the response's issue time.
var responseEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// responseFeatureNames are the features a response code can carry, by bit.
// Append only: a bit must never change its meaning.
var responseFeatureNames = [16]string{
	"xms", "loyalty", "inventory", "reports", "giftcards", "kitchen", "delivery", "ecommerce",
	"multistore", "timeclock", "api", "analytics",
}

// ResponseFeatures lists the feature names a response code can carry, by
// bit. A license with any other feature needs a license file instead.
func ResponseFeatures() []string {
	var out []string
	for _, f := range responseFeatureNames {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// CodeError is a typing mistake in a challenge or response code. It wraps
// ErrCodeTypo.
type CodeError struct {
	Code   string // "challenge" or "response"
	Group  int    // 1-based group with the mistake; 0 when not one group
	Reason string
}

func (e *CodeError) Error() string {
	if e.Group > 0 {
		return fmt.Sprintf("the %s code has a typing mistake in group %d: %s", e.Code, e.Group, e.Reason)
	}
	return fmt.Sprintf("the %s code has a typing mistake: %s", e.Code, e.Reason)
}

// Unwrap lets errors.Is match ErrCodeTypo.
func (e *CodeError) Unwrap() error { return ErrCodeTypo }

// ---- the check character ----

// gf4Times2 multiplies by the generator ω of GF(4) (elements as 2-bit
// polynomials modulo x²+x+1).
func gf4Times2(v int) int { return ((v>>1^v)&1)<<1 | v>>1&1 }

// dammOp is a totally anti-symmetric quasigroup of order 28: the direct
// product of x∘y = ωx+y over GF(4) and x∘y = 2x+y over Z7. Each factor is a
// Latin square with (c∘x)∘y = (c∘y)∘x only when x = y, and the product
// keeps both properties, which is what Damm's check needs.
func dammOp(x, y int) int {
	hi := gf4Times2(x/7) ^ y/7
	lo := (2*(x%7) + y%7) % 7
	return hi*7 + lo
}

// dammCheck returns the check digit that brings the interim digit of
// digits (starting from start) to 0.
func dammCheck(start int, digits []int) int {
	i := start
	for _, d := range digits {
		i = dammOp(i, d)
	}
	// Solve dammOp(i, c) == 0 for c, factor by factor.
	hi := gf4Times2(i / 7)
	lo := (7 - 2*(i%7)%7) % 7
	return hi*7 + lo
}

// ---- digits ----

func digitOf(c byte) (int, bool) {
	i := strings.IndexByte(CodeAlphabet, c)
	return i, i >= 0
}

// codeChars upper-cases s and drops the separators people type (spaces,
// hyphens, dots); anything else outside the alphabet is kept so that it is
// reported as a typo.
func codeChars(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '.' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	return out
}

// toDigits writes n as exactly width base-28 digits, most significant first.
func toDigits(n *big.Int, width int) []int {
	out := make([]int, width)
	v := new(big.Int).Set(n)
	base, r := big.NewInt(int64(len(CodeAlphabet))), new(big.Int)
	for i := width - 1; i >= 0; i-- {
		v.QuoRem(v, base, r)
		out[i] = int(r.Int64())
	}
	return out
}

func fromDigits(d []int) *big.Int {
	n := new(big.Int)
	base := big.NewInt(int64(len(CodeAlphabet)))
	for _, x := range d {
		n.Mul(n, base).Add(n, big.NewInt(int64(x)))
	}
	return n
}

func digitString(d []int) string {
	b := make([]byte, len(d))
	for i, x := range d {
		b[i] = CodeAlphabet[x]
	}
	return string(b)
}

// ---- challenge ----

// Challenge is a pending offline upgrade request of this PC.
type Challenge struct {
	Nonce     [7]byte   `json:"nonce"`
	Binding   uint16    `json:"binding"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// ChallengeBinding is the short binding of a challenge to an install code.
// Separators and case in the install code do not matter.
func ChallengeBinding(installCode string) uint16 {
	sum := sha256.Sum256([]byte("licensedesk-challenge\x00" + NormalizeInstallCode(installCode)))
	return binary.BigEndian.Uint16(sum[:2])
}

// NormalizeInstallCode upper-cases an install code and drops separators, so
// "bcdf-ghjk" and "BCDFGHJK" compare equal.
func NormalizeInstallCode(s string) string { return string(codeChars(s)) }

// NewChallenge draws a challenge bound to installCode, with random bytes
// from random (crypto/rand.Reader in the app; a fixed reader in examples).
func NewChallenge(random io.Reader, installCode string, now time.Time) (Challenge, error) {
	c := Challenge{Binding: ChallengeBinding(installCode), CreatedAt: now.UTC()}
	if _, err := io.ReadFull(random, c.Nonce[:]); err != nil {
		return Challenge{}, fmt.Errorf("challenge nonce: %w", err)
	}
	return c, nil
}

func (c Challenge) digits() []int {
	// As a big-endian 80-bit number, raw is version<<72 | binding<<56 |
	// nonce; the version is below 16, so the number fits in 76 bits.
	var raw [10]byte
	raw[0] = challengeVersion
	binary.BigEndian.PutUint16(raw[1:3], c.Binding)
	copy(raw[3:], c.Nonce[:])
	n := new(big.Int).SetBytes(raw[:])
	return toDigits(n, challengeDigits)
}

// Digits is the challenge's 16 digits without the check character, as
// signed in a response.
func (c Challenge) Digits() string { return digitString(c.digits()) }

// String is the code shown to the person: XXXX-XXXX-XXXX-XXXX-C.
func (c Challenge) String() string {
	d := c.digits()
	s := digitString(d)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + string(CodeAlphabet[dammCheck(0, d)])
}

// ParseChallenge reads a typed challenge code. Mistakes are *CodeError
// (ErrCodeTypo) naming the group; a code that checks out but is not a
// version-1 challenge is ErrCodeInvalid. CreatedAt is left zero.
func ParseChallenge(s string) (Challenge, error) {
	if len(s) > MaxCodeInput {
		return Challenge{}, &CodeError{Code: "challenge", Reason: "it is far too long"}
	}
	chars := codeChars(s)
	if len(chars) != challengeDigits+1 {
		return Challenge{}, &CodeError{Code: "challenge", Reason: fmt.Sprintf("it has %d characters, it should have %d", len(chars), challengeDigits+1)}
	}
	d := make([]int, len(chars))
	for i, c := range chars {
		v, ok := digitOf(c)
		if !ok {
			return Challenge{}, &CodeError{Code: "challenge", Group: i/4 + 1, Reason: fmt.Sprintf("%q is not used in codes", c)}
		}
		d[i] = v
	}
	if dammCheck(0, d[:challengeDigits]) != d[challengeDigits] {
		return Challenge{}, &CodeError{Code: "challenge", Reason: "the check character does not match; check every character"}
	}
	n := fromDigits(d[:challengeDigits])
	if n.BitLen() > challengeBits {
		return Challenge{}, fmt.Errorf("%w: not a challenge code", ErrCodeInvalid)
	}
	var raw [10]byte
	n.FillBytes(raw[:])
	if raw[0] != challengeVersion {
		return Challenge{}, fmt.Errorf("%w: challenge version %d", ErrCodeInvalid, raw[0])
	}
	c := Challenge{Binding: binary.BigEndian.Uint16(raw[1:3])}
	copy(c.Nonce[:], raw[3:])
	return c, nil
}

// ---- response ----

// ResponseEntitlement is what a response code grants: the license's
// capacity, users, renewal date (day precision) and features.
type ResponseEntitlement struct {
	IssuedAt    time.Time // minute precision
	Capacity    int
	Users       int
	RenewalDate time.Time // start of a UTC day; zero when none
	Features    []string  // names from ResponseFeatures, sorted by bit
}

// Response is a parsed response code: the entitlement, the key tag and the
// signature, not yet verified.
type Response struct {
	ResponseEntitlement
	KeyTag    byte
	signed    [responseSignedLen]byte
	Signature [ed25519.SignatureSize]byte
}

func keyTag(kid string) byte {
	sum := sha256.Sum256([]byte(kid))
	return sum[0] >> 4
}

// responseMessage is the byte string the authority signs.
func responseMessage(ch Challenge, serverID, licenseID string, signed []byte) []byte {
	msg := make([]byte, 0, 64+len(serverID)+len(licenseID))
	msg = append(msg, "licensedesk-response-v1\x00"...)
	msg = append(msg, ch.Digits()...)
	msg = append(msg, 0)
	msg = append(msg, serverID...)
	msg = append(msg, 0)
	msg = append(msg, licenseID...)
	msg = append(msg, 0)
	return append(msg, signed...)
}

// encodeEntitlement packs bytes 0-11 of a response.
func encodeEntitlement(kid string, e ResponseEntitlement) ([responseSignedLen]byte, error) {
	var b [responseSignedLen]byte
	b[0] = responseVersion<<4 | keyTag(kid)
	mins := e.IssuedAt.Sub(responseEpoch) / time.Minute
	if mins < 0 || mins >= 1<<24 {
		return b, fmt.Errorf("issue time %s cannot be written in a response code", e.IssuedAt)
	}
	b[1], b[2], b[3] = byte(mins>>16), byte(mins>>8), byte(mins)
	if e.Capacity < 0 || e.Capacity > 0xFFFF || e.Users < 0 || e.Users > 0xFFFF {
		return b, fmt.Errorf("capacity %d or users %d cannot be written in a response code", e.Capacity, e.Users)
	}
	binary.BigEndian.PutUint16(b[4:6], uint16(e.Capacity))
	binary.BigEndian.PutUint16(b[6:8], uint16(e.Users))
	if !e.RenewalDate.IsZero() {
		days := e.RenewalDate.Unix() / 86400
		if days <= 0 || days > 0xFFFF {
			return b, fmt.Errorf("renewal date %s cannot be written in a response code", e.RenewalDate)
		}
		binary.BigEndian.PutUint16(b[8:10], uint16(days))
	}
	var bits uint16
	var unknown []string
	for _, f := range e.Features {
		i := slices.Index(responseFeatureNames[:], f)
		if f == "" || i < 0 {
			unknown = append(unknown, f)
			continue
		}
		bits |= 1 << i
	}
	if len(unknown) > 0 {
		return b, fmt.Errorf("%w: %s", ErrResponseCannotCarry, strings.Join(unknown, ", "))
	}
	binary.BigEndian.PutUint16(b[10:12], bits)
	return b, nil
}

func decodeEntitlement(b [responseSignedLen]byte) ResponseEntitlement {
	mins := int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
	e := ResponseEntitlement{
		IssuedAt: responseEpoch.Add(time.Duration(mins) * time.Minute),
		Capacity: int(binary.BigEndian.Uint16(b[4:6])),
		Users:    int(binary.BigEndian.Uint16(b[6:8])),
	}
	if days := binary.BigEndian.Uint16(b[8:10]); days != 0 {
		e.RenewalDate = time.Unix(int64(days)*86400, 0).UTC()
	}
	bits := binary.BigEndian.Uint16(b[10:12])
	for i, f := range responseFeatureNames {
		if bits&(1<<i) != 0 && f != "" {
			e.Features = append(e.Features, f)
		}
	}
	return e
}

// SignResponse makes the response code that answers ch for the given
// server and license, signed with the authority's key priv (whose kid is
// kid). The renewal date is rounded down to its UTC day and the issue time
// to its minute. Features outside ResponseFeatures are
// ErrResponseCannotCarry.
func SignResponse(priv ed25519.PrivateKey, kid string, ch Challenge, serverID, licenseID string, e ResponseEntitlement) (string, error) {
	signed, err := encodeEntitlement(kid, e)
	if err != nil {
		return "", err
	}
	var raw [responseBytes]byte
	copy(raw[:], signed[:])
	copy(raw[responseSignedLen:], ed25519.Sign(priv, responseMessage(ch, serverID, licenseID, signed[:])))
	d := toDigits(new(big.Int).SetBytes(raw[:]), responseDigits)
	var b strings.Builder
	for g := 0; g < responseDigits/responseGroup; g++ {
		if g > 0 {
			b.WriteByte('-')
		}
		grp := d[g*responseGroup : (g+1)*responseGroup]
		b.WriteString(digitString(grp))
		b.WriteByte(CodeAlphabet[dammCheck(groupStart(g), grp)])
	}
	return b.String(), nil
}

// groupStart seeds a response group's check with its position.
func groupStart(g int) int { return dammOp(dammOp(0, g/28), g%28) }

// ParseResponse reads a typed response code and checks every group's
// check character. It does not verify the signature (VerifyResponse does).
func ParseResponse(s string) (Response, error) {
	const groups = responseDigits / responseGroup
	if len(s) > MaxCodeInput {
		return Response{}, &CodeError{Code: "response", Reason: "it is far too long"}
	}
	chars := codeChars(s)
	if want := groups * (responseGroup + 1); len(chars) != want {
		return Response{}, &CodeError{Code: "response", Reason: fmt.Sprintf("it has %d characters, it should have %d (%d groups of %d)", len(chars), want, groups, responseGroup+1)}
	}
	d := make([]int, 0, responseDigits)
	for g := 0; g < groups; g++ {
		grp := make([]int, responseGroup+1)
		for i := range grp {
			c := chars[g*(responseGroup+1)+i]
			v, ok := digitOf(c)
			if !ok {
				return Response{}, &CodeError{Code: "response", Group: g + 1, Reason: fmt.Sprintf("%q is not used in codes", c)}
			}
			grp[i] = v
		}
		if dammCheck(groupStart(g), grp[:responseGroup]) != grp[responseGroup] {
			return Response{}, &CodeError{Code: "response", Group: g + 1, Reason: "the check character does not match"}
		}
		d = append(d, grp[:responseGroup]...)
	}
	n := fromDigits(d)
	if n.BitLen() > responseBytes*8 {
		return Response{}, fmt.Errorf("%w: not a response code", ErrCodeInvalid)
	}
	var raw [responseBytes]byte
	n.FillBytes(raw[:])
	if raw[0]>>4 != responseVersion {
		return Response{}, fmt.Errorf("%w: response version %d", ErrCodeInvalid, raw[0]>>4)
	}
	var r Response
	copy(r.signed[:], raw[:responseSignedLen])
	copy(r.Signature[:], raw[responseSignedLen:])
	r.KeyTag = raw[0] & 0x0F
	r.ResponseEntitlement = decodeEntitlement(r.signed)
	return r, nil
}

// VerifyResponse parses code and checks that one of keys (by kid, as in a
// pinned JWKS) signed it as the answer to ch for serverID and licenseID.
// A key tag no key matches is ErrUnknownKey; a signature that does not
// match (another challenge, server or license, or a forgery) is
// ErrResponseMismatch.
func VerifyResponse(code string, ch Challenge, serverID, licenseID string, keys map[string]ed25519.PublicKey) (ResponseEntitlement, error) {
	r, err := ParseResponse(code)
	if err != nil {
		return ResponseEntitlement{}, err
	}
	msg := responseMessage(ch, serverID, licenseID, r.signed[:])
	tagged := false
	for kid, pub := range keys {
		if keyTag(kid) != r.KeyTag {
			continue
		}
		tagged = true
		if ed25519.Verify(pub, msg, r.Signature[:]) {
			return r.ResponseEntitlement, nil
		}
	}
	if !tagged {
		return ResponseEntitlement{}, fmt.Errorf("%w: the response code was signed with a key this PC does not know yet; connect to the authority once or use a license file", ErrUnknownKey)
	}
	return ResponseEntitlement{}, ErrResponseMismatch
}
