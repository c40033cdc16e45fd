package authority

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"licensedesk/licensecore/wire"
)

// codeRetention is how long an expired or used device code is remembered, so
// that a late poll still gets expired_token or invalid_grant rather than
// looking like an unknown code.
const codeRetention = time.Hour

// Server is the Authorization server. Create it with New, serve Handler, and
// Close it when done.
type Server struct {
	opts Options
	log  zerolog.Logger
	db   *badger.DB
	keys *keyRing
	root ed25519.PrivateKey // signs the published key set, nothing else

	proofs *replayCache // jti of the DPoP proofs seen within the skew window

	clientsMu sync.RWMutex
	clients   map[string]bool

	// codes is the in-memory index of device codes (by secretHash of the
	// device code) and byUser maps a live user code to its hash. Badger is
	// the durable copy: every state change is written through.
	codesMu sync.Mutex
	codes   map[string]*liveCode
	byUser  map[string]string
	// retryMu runs the retries of conflicted transactions one at a time
	// (retryUpdate).
	retryMu sync.Mutex
	// codeQueue feeds new device codes to their group commit (writeCodes).
	codeQueue chan *liveCode

	sessions *sessionStore
	limits   struct {
		codeIP, codeSession, login, loginIP, loginUser, loginAll *failureLimiter
	}
	// Limits of /device/authorize: requests per IP, and live codes per IP,
	// per client and in all (the global count only holds codes that have
	// not expired, unlike codes, which keeps them for late polls).
	authRate                        *tokenBucket
	liveByIP, liveByClient, liveAll *liveLimiter
	envelopes                       *replayCache  // ids of the pool envelopes seen
	hashSem                         chan struct{} // bounds concurrent argon2 work (memory)
	hashMu                          sync.Mutex
	nextHash                        time.Time // the earliest start of the next password hash (hashTurn)
	dummyHash                       string    // checked for unknown users: same timing
	pages                           pages

	// life lets Close wait for in-flight requests and method calls before
	// it closes Badger.
	life   sync.RWMutex
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// liveCode is a device code in memory: its durable record plus the polling
// state, which is deliberately not persisted (a restart merely forgets when
// a client last polled).
type liveCode struct {
	rec      codeRecord // guarded by Server.codesMu
	lastPoll time.Time  // guarded by Server.codesMu
	// wmu orders this code's writes to Badger: whoever changes the status
	// holds it until the change is durable, so an older state never lands
	// after a newer one.
	wmu sync.Mutex
}

// New reads the store key and the root key (creating both on a first
// start), opens (or creates) the encrypted store in opts.DataDir, loads the
// signing keys and pending device codes, and starts the janitor and the
// group commit of new device codes.
func New(opts Options) (*Server, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger.With().Str("component", "authority").Logger(),
		clients:  make(map[string]bool),
		codes:    make(map[string]*liveCode),
		byUser:   make(map[string]string),
		sessions: newSessionStore(opts.MaxSessions, opts.MaxAnonSessions, opts.SessionTTL),
		// At most half the cores hash passwords (and at most two, for
		// memory: 19 MiB each): a flood of sign-in attempts the limits
		// admit (LoginGlobalLimit) then still leaves the devices the
		// other half. On two cores, two hashes at once held both for
		// seconds when a flood began.
		hashSem:   make(chan struct{}, min(2, max(1, runtime.GOMAXPROCS(0)/2))),
		stop:      make(chan struct{}),
		codeQueue: make(chan *liveCode, 4*maxCodeBatch),
		proofs:    newReplayCache(maxReplayEntries, maxReplayPerKey),
	}
	s.limits.codeIP = newFailureLimiter(opts.UserCodeIPLimit)
	s.limits.codeSession = newFailureLimiter(opts.UserCodeSessionLimit)
	s.limits.login = newFailureLimiter(opts.LoginLimit)
	s.limits.loginIP = newFailureLimiter(opts.LoginIPLimit)
	s.limits.loginUser = newFailureLimiter(opts.LoginUserLimit)
	// A small burst: hashes run one after another on a small server, and
	// the 15 (a quarter of the default) let through at once held a
	// one-core authority for 0.6 s as a flood began, the worst second of
	// the load test (every device's answer waited behind them). It still
	// holds one address's allowance for one user and one more sign-in:
	// one person's typos never keep the next person out.
	s.limits.loginAll = newPacedLimiter(opts.LoginGlobalLimit, opts.LoginLimit.Max+1)
	s.authRate = newTokenBucket(float64(opts.DeviceAuthIPRate.Max)/opts.DeviceAuthIPRate.Window.Seconds(), opts.DeviceAuthIPRate.Max)
	s.liveByIP, s.liveByClient = newLiveLimiter(opts.DeviceAuthPerIP), newLiveLimiter(opts.DeviceAuthPerClient)
	s.liveAll = newLiveLimiter(opts.MaxPendingCodes)
	s.envelopes = newReplayCache(maxReplayEntries, maxReplayPerKey)
	for _, c := range opts.ClientIDs {
		s.clients[c] = true
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.dummyHash, err = hashPassword("not a password", opts.Argon2); err != nil {
		return nil, err
	}
	key, err := storeKey(&s.opts, s.log, true)
	if err != nil {
		return nil, err
	}
	firstStart := !storeExists(opts.DataDir)
	if s.root, err = loadRoot(&s.opts, key, firstStart, s.log); err != nil {
		return nil, err
	}
	if s.db, err = openBadger(opts.DataDir, key, s.log); err != nil {
		return nil, err
	}
	if err := indexOrgDevices(s.db); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("authority: index devices by organization: %w", err)
	}
	if err := s.load(); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	s.wg.Add(2)
	go s.janitor()
	go s.writeCodes()
	return s, nil
}

// load reads keys, seeded clients and device codes into memory.
func (s *Server) load() error {
	var err error
	if s.keys, err = loadKeys(s.db, s.now()); err != nil {
		return err
	}
	now := s.now()
	return s.db.View(func(txn *badger.Txn) error {
		var seeded []string
		if err := getJSON(txn, kClients, &seeded); err != nil && !errors.Is(err, errNotFound) {
			return err
		}
		for _, c := range seeded {
			s.clients[c] = true
		}
		return scanJSON(txn, pCode, func(rec *codeRecord) error {
			if now.After(rec.ExpiresAt.Add(codeRetention)) {
				return nil
			}
			s.addCodeLocked(&liveCode{rec: *rec})
			return nil
		})
	})
}

func (s *Server) now() time.Time { return s.opts.Now() }

// addCodeLocked indexes a code; the caller holds codesMu (or is New).
func (s *Server) addCodeLocked(c *liveCode) {
	s.codes[c.rec.Hash] = c
	if c.rec.Status == codePending {
		s.byUser[c.rec.UserCode] = c.rec.Hash
	}
}

func (s *Server) removeCodeLocked(c *liveCode) {
	delete(s.codes, c.rec.Hash)
	if s.byUser[c.rec.UserCode] == c.rec.Hash {
		delete(s.byUser, c.rec.UserCode)
	}
}

// janitor forgets expired codes, sessions and rate-limit windows, and lets
// Badger reclaim value-log space. It and writeCodes are the only
// goroutines the Server owns.
func (s *Server) janitor() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		now := s.now()
		s.pruneCodes(now)
		s.sessions.prune(now)
		s.proofs.prune(now)
		s.envelopes.prune(now)
		for _, l := range []*failureLimiter{s.limits.codeIP, s.limits.codeSession, s.limits.login, s.limits.loginIP, s.limits.loginUser, s.limits.loginAll} {
			l.prune(now)
		}
		for _, l := range []*liveLimiter{s.liveByIP, s.liveByClient, s.liveAll} {
			l.prune(now)
		}
		s.authRate.prune(now)
		if n%10 == 0 {
			for s.db.RunValueLogGC(0.5) == nil {
			}
		}
	}
}

func (s *Server) pruneCodes(now time.Time) {
	s.codesMu.Lock()
	defer s.codesMu.Unlock()
	for _, c := range s.codes {
		if now.After(c.rec.ExpiresAt.Add(codeRetention)) {
			s.removeCodeLocked(c)
		} else if !now.Before(c.rec.ExpiresAt) && s.byUser[c.rec.UserCode] == c.rec.Hash {
			delete(s.byUser, c.rec.UserCode) // its user code may be drawn again
		}
	}
}

// Handler serves the OAuth endpoints, the JWKS, /healthz and the pages.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/device/authorize", s.limitAuthorizeRate(s.api(s.handleDeviceAuthorize)))
	mux.Handle("/token", s.api(s.oauthEndpoint(s.token)))
	mux.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("GET "+wire.PathSignedJWKS, s.handleSignedJWKS)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET "+wire.PathMetadata, s.handleMetadata)
	mux.HandleFunc("GET /static/style.css", s.handleCSS)
	mux.HandleFunc("GET /{$}", s.handleRoot)
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.HandleFunc("GET /org", s.handleOrgPage)
	mux.HandleFunc("POST /org", s.handleOrg)
	mux.HandleFunc("GET /device", s.handleDevicePage)
	mux.HandleFunc("POST /device", s.handleDeviceSubmit)
	mux.HandleFunc("POST /device/confirm", s.handleConfirm)
	s.registerPool(mux) // pool.go: customers, cloud pool, partner pages
	mux.HandleFunc("GET /upgrade", s.handleUpgradePage)
	mux.HandleFunc("POST /upgrade", s.handleUpgrade)
	mux.HandleFunc("GET /entitle", s.handleEntitlePage)
	mux.HandleFunc("POST /entitle", s.handleEntitle)
	mux.Handle("/licence/verify", s.api(s.oauthEndpoint(s.verifyLicense)))
	mux.Handle("/licence/release", s.api(s.oauthEndpoint(s.release)))
	mux.Handle("/licence/switch", s.api(s.handleSwitchRequest))
	mux.Handle("GET /licence/switch/{id}", s.api(s.handleSwitchStatus))
	mux.HandleFunc("GET /switch", s.handleSwitchPage)
	mux.HandleFunc("POST /switch", s.handleSwitchDecision)
	s.registerVendor(mux) // vendor.go: licenses, key rotation, audit log
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			http.Error(w, "authority is shutting down", http.StatusServiceUnavailable)
			return
		}
		defer s.leave()
		// Every answer, whichever endpoint: no sniffing, no referrer, and
		// no body larger than the largest a form may be.
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		mux.ServeHTTP(w, r)
	})
}

// RotateKey makes a new signing key. Tokens are signed with it from now on;
// the previous key stays in the JWKS for max(TokenLifetime,
// wire.OfflineWindow) plus a day, until every token and license file it
// signed has expired, and is then retired.
func (s *Server) RotateKey() error {
	return s.guard(func() error { return s.rotateKey(ActorCLI) })
}

// rotateKey rotates on behalf of by and records it in the audit log.
func (s *Server) rotateKey(by string) error {
	if err := rotateKeys(s.db, s.keys, s.now(), max(s.opts.TokenLifetime, wire.OfflineWindow)); err != nil {
		return err
	}
	kid := s.keys.activeKey().kid
	s.log.Info().Str("kid", kid).Str("by", by).Msg("signing key rotated")
	return s.audit(AuditEntry{Actor: by, Action: AuditKeyRotated, Subject: kid, Detail: "new signing key " + kid})
}

// JWKS returns the published key set, as served at /.well-known/jwks.json.
func (s *Server) JWKS() wire.JWKS { return s.keys.jwks(s.now()) }

// SignedKeySet returns the published key set signed by the root key, as
// served at wire.PathSignedJWKS and carried in license files.
func (s *Server) SignedKeySet() (string, error) {
	return s.keys.signedSet(s.root, s.opts.Issuer, s.now())
}

// RootPublicKey is the root of trust License Desk pins (shown as
// wire.Fingerprint, written as wire.EncodeRootKey).
func (s *Server) RootPublicKey() ed25519.PublicKey {
	return s.root.Public().(ed25519.PublicKey)
}

// RevokeLicense marks a license revoked: its refresh tokens stop working
// and no new token is issued for it. Tokens already issued stay valid until
// they expire, which is why their lifetime is short.
func (s *Server) RevokeLicense(id string) error {
	return s.guard(func() error { return s.revoke(id, ActorCLI) })
}

// revoke revokes on behalf of by, with its audit entry in the same
// transaction.
func (s *Server) revoke(id, by string) error {
	err := s.retryUpdate(func(txn *badger.Txn) error {
		var lic licenseRecord
		if err := getJSON(txn, pLicense+id, &lic); err != nil {
			return err
		}
		lic.Revoked = true
		if err := setJSON(txn, pLicense+id, &lic, 0); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: by, Action: AuditLicenseRevoked, Subject: id,
			Detail: "license of " + lic.ServerID + " (" + lic.Customer + ")"})
	})
	if errors.Is(err, errNotFound) {
		return fmt.Errorf("%w: %q", ErrUnknownLicense, id)
	}
	if err != nil {
		return fmt.Errorf("authority: revoke license: %w", err)
	}
	s.log.Info().Str("lid", id).Str("by", by).Msg("license revoked")
	return nil
}

// Close stops the janitor and closes the store. Requests after Close get
// 503 and methods return ErrClosed.
func (s *Server) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	s.life.Unlock()
	close(s.stop)
	s.wg.Wait()
	return s.db.Close()
}

// enter admits a request or method call unless the server is closed; pair
// it with leave.
func (s *Server) enter() bool {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return false
	}
	return true
}

func (s *Server) leave() { s.life.RUnlock() }

// guard runs a method body unless the server is closed.
func (s *Server) guard(fn func() error) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.leave()
	return fn()
}
