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
	vendor   bool   // the user's role at sign-in, for the navigation (actions check the stored role)
	prefill  string // user code from verification_uri_complete
	install  string // install code the app named, to mark "this PC"
	lastSeen time.Time
}

// sessionStore keeps two pools: sessions of visitors not signed in (they
// only carry the login form's CSRF token and are cheap to make, so an
// anonymous flood fills this pool and nothing else) and signed-in sessions.
// Each is bounded on its own; a full anonymous pool drops anonymous
// sessions, and only a sign-in can push a signed-in session out.
type sessionStore struct {
	mu     sync.Mutex
	anon   map[string]session
	signed map[string]session
	maxAnon,
	maxSigned int
	ttl time.Duration
}

func newSessionStore(maxSigned, maxAnon int, ttl time.Duration) *sessionStore {
	return &sessionStore{anon: make(map[string]session), signed: make(map[string]session), maxAnon: maxAnon, maxSigned: maxSigned, ttl: ttl}
}

// pool is the map a session belongs in.
func (st *sessionStore) pool(s session) map[string]session {
	if s.user != "" {
		return st.signed
	}
	return st.anon
}

// get returns a copy of the live session and refreshes its idle timer.
func (st *sessionStore) get(id string, now time.Time) (session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range [...]map[string]session{st.signed, st.anon} {
		s, ok := m[id]
		if !ok {
			continue
		}
		if now.Sub(s.lastSeen) > st.ttl {
			delete(m, id)
			return session{}, false
		}
		s.lastSeen = now
		m[id] = s
		return s, true
	}
	return session{}, false
}

// create stores a fresh session with new random id and CSRF token in its
// pool. A full anonymous pool drops expired and then arbitrary anonymous
// sessions; a full signed-in pool drops expired and then the least
// recently used signed-in session.
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
	m, max := st.anon, st.maxAnon
	if base.user != "" {
		m, max = st.signed, st.maxSigned
	}
	if len(m) >= max {
		st.pruneLocked(m, now)
	}
	for len(m) >= max {
		victim := ""
		for k, s := range m {
			if base.user == "" {
				victim = k
				break
			}
			if victim == "" || s.lastSeen.Before(m[victim].lastSeen) {
				victim = k
			}
		}
		delete(m, victim)
	}
	m[id] = base
	return base, nil
}

// save writes back a session that is still present.
func (st *sessionStore) save(s session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if m := st.pool(s); m[s.id].id != "" {
		m[s.id] = s
	}
}

func (st *sessionStore) remove(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.anon, id)
	delete(st.signed, id)
}

func (st *sessionStore) prune(now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.pruneLocked(st.anon, now)
	st.pruneLocked(st.signed, now)
}

func (st *sessionStore) pruneLocked(m map[string]session, now time.Time) {
	for k, s := range m {
		if now.Sub(s.lastSeen) > st.ttl {
			delete(m, k)
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
