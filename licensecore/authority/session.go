package authority

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"
)

const sessionCookie = "ld_session"

// session is a browser's state. Sessions live in memory only: a restart
// signs people out, which is harmless, while device codes are durable.
type session struct {
	id       string
	csrf     string
	user     string
	org      string
	prefill  string // user code from verification_uri_complete
	install  string // install code the app named, to mark "this PC"
	lastSeen time.Time
}

type sessionStore struct {
	mu  sync.Mutex
	m   map[string]session
	max int
	ttl time.Duration
}

func newSessionStore(max int, ttl time.Duration) *sessionStore {
	return &sessionStore{m: make(map[string]session), max: max, ttl: ttl}
}

// get returns a copy of the live session and refreshes its idle timer.
func (st *sessionStore) get(id string, now time.Time) (session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.m[id]
	if !ok || now.Sub(s.lastSeen) > st.ttl {
		delete(st.m, id)
		return session{}, false
	}
	s.lastSeen = now
	st.m[id] = s
	return s, true
}

// create stores a fresh session with new random id and CSRF token. When the
// store is full it drops expired sessions and then arbitrary ones, so that
// anonymous visitors cannot exhaust memory.
func (st *sessionStore) create(base session, now time.Time) (session, error) {
	id, err := randomToken(32)
	if err != nil {
		return session{}, err
	}
	csrf, err := randomToken(32)
	if err != nil {
		return session{}, err
	}
	base.id, base.csrf, base.lastSeen = id, csrf, now
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.m) >= st.max {
		st.pruneLocked(now)
		for k := range st.m {
			if len(st.m) < st.max {
				break
			}
			delete(st.m, k)
		}
	}
	st.m[id] = base
	return base, nil
}

// save writes back a session that is still present.
func (st *sessionStore) save(s session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.m[s.id]; ok {
		st.m[s.id] = s
	}
}

func (st *sessionStore) remove(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, id)
}

func (st *sessionStore) prune(now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.pruneLocked(now)
}

func (st *sessionStore) pruneLocked(now time.Time) {
	for k, s := range st.m {
		if now.Sub(s.lastSeen) > st.ttl {
			delete(st.m, k)
		}
	}
}

// currentSession finds the request's session; with create it starts one
// (and sets the cookie) when there is none.
func (s *Server) currentSession(w http.ResponseWriter, r *http.Request, create bool) (session, bool) {
	now := s.now()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, ok := s.sessions.get(c.Value, now); ok {
			return sess, true
		}
	}
	if !create {
		return session{}, false
	}
	sess, err := s.sessions.create(session{}, now)
	if err != nil {
		return session{}, false
	}
	s.setSessionCookie(w, r, sess.id)
	return sess, true
}

// setSessionCookie: HttpOnly, SameSite=Lax, Secure whenever the page is
// served over TLS (directly or, per the issuer URL, behind a proxy).
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, id string) {
	c := &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || strings.HasPrefix(s.opts.Issuer, "https:"),
	}
	if id == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// checkCSRF compares the form's csrf_token with the session's in constant
// time; the caller answers 403 when it fails.
func checkCSRF(sess session, r *http.Request) bool {
	got := r.PostFormValue("csrf_token")
	return got != "" && sess.csrf != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}
