package authority

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// DefaultClientID is the client id License Desk registers with.
const DefaultClientID = "license-desk"

// Argon2Params are the argon2id cost parameters for new password hashes.
// Stored hashes carry their own parameters, so changing these never locks
// anyone out.
type Argon2Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 follows OWASP's argon2id recommendation (19 MiB, t=2, p=1).
var defaultArgon2 = Argon2Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// RateLimit allows Max failures per Window for one key (an IP address, a
// session, a user name).
type RateLimit struct {
	Max    int
	Window time.Duration
}

// Options configure a Server. Zero values take the documented defaults.
type Options struct {
	// DataDir is the Badger directory (required). It is encrypted with the
	// store key (KeyFile or KeyEnv).
	DataDir string
	// KeyFile holds the 32-byte store key (base64url) that encrypts DataDir
	// and seals RootKeyFile; default DataDir + ".key", beside the data
	// directory and not inside it, so a copy of the directory alone is
	// unreadable. It is created (mode 0600) on first start. When the
	// environment variable KeyEnv is set, its value is the key and KeyFile
	// is not used.
	KeyFile string
	// RootKeyFile holds the long-lived Ed25519 root key that signs the
	// published key set, sealed with the store key; default DataDir +
	// ".root". It is created (mode 0600) on first start; `authority root
	// init` creates it explicitly.
	RootKeyFile string
	// Issuer is the public base URL, e.g. "http://127.0.0.1:8080"; it is the
	// tokens' iss and the base of verification_uri (required).
	Issuer string
	Logger zerolog.Logger
	// Now is the clock; time.Now by default.
	Now func() time.Time

	TokenLifetime        time.Duration // license token lifetime, default 72h
	RefreshTokenLifetime time.Duration // default 90 days
	DeviceCodeTTL        time.Duration // expires_in, default 10m
	PollInterval         time.Duration // interval, default 5s (whole seconds)
	SessionTTL           time.Duration // browser session idle timeout, default 1h
	// RefreshGrace is how long the refresh token a rotation replaced is
	// still answered, with the same new pair, for the same DPoP key (an
	// answer lost on the way); default 10m. It ends earlier, when the new
	// refresh token is first used. After it, the same key still gets a new
	// pair while the new token is unused (see chain.go).
	RefreshGrace time.Duration

	Argon2 Argon2Params // default 19 MiB, t=2, p=1

	// ClientIDs are the known OAuth clients; default {DefaultClientID}.
	ClientIDs []string

	UserCodeIPLimit      RateLimit // wrong user codes per IP, default 10 per 15 min
	UserCodeSessionLimit RateLimit // wrong user codes per session, default 5 per 15 min
	LoginLimit           RateLimit // failed logins per IP and user name, default 5 per 15 min
	LoginIPLimit         RateLimit // failed logins per IP, default 20 per 15 min
	// LoginUserLimit bounds failed logins per user name from any address
	// (a guess spread over many addresses), default 10 per 15 min. It lets
	// an attacker keep one known user out for as long as they keep
	// guessing; that is the price of bounding the guesses.
	LoginUserLimit RateLimit
	// LoginGlobalLimit bounds failed logins in all, default 60 per
	// minute: the argon2 work a botnet can make the authority do (a check
	// costs some 40-50 ms of a core and 19 MiB), paced: LoginLimit.Max+1
	// at once, the rest spread evenly over the window. While it is used
	// up, every sign-in waits, right passwords included.
	LoginGlobalLimit RateLimit

	// DeviceAuthIPRate limits POST /device/authorize per IP address before
	// anything else is looked at (the DPoP proof included): Max at once,
	// then Max per Window; default 30 per minute.
	DeviceAuthIPRate RateLimit
	// DeviceAuthPerIP and DeviceAuthPerClient bound the live (unexpired)
	// device codes one IP address and one client holds; a client is its
	// DPoP key, or its install code when it sends no proof. Defaults 50 and
	// 5. Over a limit /device/authorize answers 429 slow_down with
	// Retry-After.
	DeviceAuthPerIP     int
	DeviceAuthPerClient int

	// PoolTrustOnFirstUse registers a pool install code to the first key
	// that signs for it, without the proof of a license token for that
	// install the authority asks for by default (pool.go). Only for tests
	// of the pool alone: anyone knowing a Customer ID and an install code
	// could then register it first.
	PoolTrustOnFirstUse bool

	MaxBodyBytes int64 // request body cap, default 16 KiB
	// MaxSessions bounds signed-in browser sessions, default 10000; when
	// full, a new sign-in ends the least recently used one. Sessions of
	// visitors not signed in (the login page's CSRF token) have their own
	// pool, MaxAnonSessions (default 10000), and never push out a
	// signed-in one.
	MaxSessions     int
	MaxAnonSessions int
	// MaxConnsPerIP bounds the open connections of one client address on
	// the authority's listener (Server.Listener), default
	// DefaultMaxConnsPerIP. Raise it for many stores behind one address
	// (a chain's head office NAT); each connection costs a descriptor and
	// a goroutine.
	MaxConnsPerIP   int
	MaxPendingCodes int // live (unexpired) device codes, default 200000
}

func (o *Options) withDefaults() error {
	if err := o.fileDefaults(); err != nil {
		return err
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("authority: Options.Issuer %q must be an absolute http(s) URL", o.Issuer)
	}
	o.Issuer = strings.TrimRight(o.Issuer, "/")
	if o.Now == nil {
		o.Now = time.Now
	}
	setDuration(&o.TokenLifetime, 72*time.Hour)
	setDuration(&o.RefreshTokenLifetime, 90*24*time.Hour)
	setDuration(&o.DeviceCodeTTL, 10*time.Minute)
	setDuration(&o.PollInterval, 5*time.Second)
	setDuration(&o.SessionTTL, time.Hour)
	setDuration(&o.RefreshGrace, 10*time.Minute)
	if o.PollInterval < time.Second {
		o.PollInterval = time.Second
	}
	o.PollInterval = o.PollInterval.Truncate(time.Second)
	if o.Argon2 == (Argon2Params{}) {
		o.Argon2 = defaultArgon2
	}
	if o.Argon2.Time == 0 || o.Argon2.MemoryKiB == 0 || o.Argon2.Threads == 0 {
		return fmt.Errorf("authority: Argon2 params %+v must all be positive", o.Argon2)
	}
	if len(o.ClientIDs) == 0 {
		o.ClientIDs = []string{DefaultClientID}
	}
	setLimit(&o.UserCodeIPLimit, 10)
	setLimit(&o.UserCodeSessionLimit, 5)
	setLimit(&o.LoginLimit, 5)
	setLimit(&o.LoginIPLimit, 20)
	setLimit(&o.LoginUserLimit, 10)
	if o.LoginGlobalLimit.Window <= 0 {
		o.LoginGlobalLimit.Window = time.Minute
	}
	setLimit(&o.LoginGlobalLimit, 60)
	if o.DeviceAuthIPRate.Window <= 0 {
		o.DeviceAuthIPRate.Window = time.Minute
	}
	setLimit(&o.DeviceAuthIPRate, 30)
	if o.DeviceAuthPerIP <= 0 {
		o.DeviceAuthPerIP = 50
	}
	if o.DeviceAuthPerClient <= 0 {
		o.DeviceAuthPerClient = 5
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 10
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 10000
	}
	if o.MaxAnonSessions <= 0 {
		o.MaxAnonSessions = 10000
	}
	if o.MaxConnsPerIP <= 0 {
		o.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if o.MaxPendingCodes <= 0 {
		o.MaxPendingCodes = 200000
	}
	return nil
}

// fileDefaults places the key file and the root key file beside DataDir.
func (o *Options) fileDefaults() error {
	if o.DataDir == "" {
		return errors.New("authority: Options.DataDir is required")
	}
	o.DataDir = filepath.Clean(o.DataDir)
	if o.KeyFile == "" {
		o.KeyFile = o.DataDir + ".key"
	}
	if o.RootKeyFile == "" {
		o.RootKeyFile = o.DataDir + ".root"
	}
	return nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func setLimit(l *RateLimit, max int) {
	if l.Max <= 0 {
		l.Max = max
	}
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
}
