package authority

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"time"

	"github.com/dgraph-io/badger/v4"

	"licensedesk/licensecore/wire"
)

//go:embed templates/*.html static/style.css
var webFS embed.FS

type pages map[string]*template.Template

var pageNames = []string{"login", "org", "device", "confirm", "result", "error", "switch", "upgrade", "entitle", "partner", "pool", "licenses", "audit"}

func parsePages() (pages, error) {
	p := make(pages, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New("layout.html").ParseFS(webFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("authority: template %s: %w", name, err)
		}
		p[name] = t
	}
	return p, nil
}

// pageData feeds every template; each page uses the fields it needs.
type pageData struct {
	Title   string
	CSRF    string
	User    string
	Vendor  bool // the navigation shows the vendor's pages
	OrgName string
	Error   string

	Orgs        []orgRecord
	SelectedOrg string

	Devices        []deviceRecord
	SelectedDevice string
	UserCode       string

	Request codeRecord   // the code being confirmed: who is asking
	Device  deviceRecord // the device chosen on the previous page
	// ThisPC is the Server ID of the device bound to the install code of
	// the PC asking (listed first and marked "this PC"); Match and
	// Mismatch say on the confirm page whether the chosen device is it.
	ThisPC   string
	Match    string
	Mismatch string

	Success bool
	Message string

	Switches []switchRecord // the /switch page
	Offline  offlinePage    // the /upgrade and /entitle pages (offline.go)
}

// render writes a page with headers that keep it out of frames, caches and
// referrers (the URL may hold a user code).
func (s *Server) render(w http.ResponseWriter, status int, name string, d pageData) {
	s.renderPage(w, status, name, d)
}

// renderPage executes any page template with its own data type.
func (s *Server) renderPage(w http.ResponseWriter, status int, name string, d any) {
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, d); err != nil {
		s.log.Error().Err(err).Str("page", name).Msg("render")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (s *Server) renderError(w http.ResponseWriter, status int, sess session, msg string) {
	s.render(w, status, "error", pageData{Title: "Something went wrong", CSRF: sess.csrf, User: sess.user, Vendor: sess.vendor, Message: msg})
}

func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeFileFS(w, r, webFS, "static/style.css")
}

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/device", http.StatusSeeOther)
}

// postForm parses a page's form and checks its CSRF token, answering 413,
// 400 or 403 itself when something is wrong.
func (s *Server) postForm(w http.ResponseWriter, r *http.Request) (session, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.renderError(w, http.StatusRequestEntityTooLarge, session{}, "The form was too large.")
		} else {
			s.renderError(w, http.StatusBadRequest, session{}, "The form could not be read.")
		}
		return session{}, false
	}
	sess, ok := s.currentSession(w, r, false)
	if !ok || !checkCSRF(sess, r) {
		s.renderError(w, http.StatusForbidden, session{}, "This form has expired or did not come from this site. Go back, reload the page and try again.")
		return session{}, false
	}
	return sess, true
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func retryMinutes(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

func (s *Server) tooMany(w http.ResponseWriter, page string, d pageData, wait time.Duration) {
	w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
	d.Error = "Too many failed attempts. Try again in " + retryMinutes(wait) + "."
	s.render(w, http.StatusTooManyRequests, page, d)
}

// ---- login and logout ----

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.currentSession(w, r, true)
	if !ok {
		s.renderError(w, http.StatusServiceUnavailable, session{}, "Please try again.")
		return
	}
	if sess.user != "" {
		http.Redirect(w, r, "/org", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "login", pageData{Title: "Sign in", CSRF: sess.csrf})
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.postForm(w, r)
	if !ok {
		return
	}
	now := s.now()
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	d := pageData{Title: "Sign in", CSRF: sess.csrf}
	ip := clientIP(r)
	// The failure is reserved before the password hash runs, so parallel
	// guesses cannot all pass the check before the first one fails.
	held, ok, wait := reserveAll(now,
		limitCheck{s.limits.login, ip + "\x00" + username}, limitCheck{s.limits.loginIP, ip},
		limitCheck{s.limits.loginUser, username}, limitCheck{s.limits.loginAll, ""})
	if !ok {
		s.tooMany(w, "login", d, wait)
		return
	}
	u, good := s.authenticate(username, password)
	if !good {
		s.log.Info().Str("ip", ip).Msg("failed sign-in")
		d.Error = "Wrong user name or password."
		s.render(w, http.StatusUnauthorized, "login", d)
		return
	}
	held.release()
	// A new session id on sign-in defeats session fixation.
	s.sessions.remove(sess.id)
	fresh, err := s.sessions.create(session{user: username, vendor: u.vendor(), prefill: sess.prefill}, now)
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, session{}, "Please try again.")
		return
	}
	s.setSessionCookie(w, r, fresh.id)
	s.log.Info().Str("user", username).Msg("signed in")
	http.Redirect(w, r, "/org", http.StatusSeeOther)
}

// authenticate checks a password; unknown users cost the same argon2 work.
func (s *Server) authenticate(username, password string) (userRecord, bool) {
	var u userRecord
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pUser+username, &u) })
	hash := u.Hash
	if err != nil || username == "" {
		hash = s.dummyHash
	}
	s.hashSem <- struct{}{}
	s.hashTurn()
	ok, herr := checkPassword(hash, password)
	<-s.hashSem
	return u, err == nil && username != "" && herr == nil && ok
}

// hashPace is the least time between the starts of two password hashes.
// A hash takes a core for some 40 ms; the sign-in limits let a few through
// at once (LoginGlobalLimit's burst), and back to back they held a one-core
// authority while a flood began: the devices' answers queued behind them
// (the load test's worst second). 100 ms apart, hashing takes at most
// about 40 % of a core at any time, and a sign-in waits at most a few
// tenths of a second more.
const hashPace = 100 * time.Millisecond

// hashTurn waits until this hash may start: hashPace after the last one.
// It paces by the wall clock, whatever Options.Now says.
func (s *Server) hashTurn() {
	s.hashMu.Lock()
	now := time.Now()
	start := now
	if s.nextHash.After(now) {
		start = s.nextHash
	}
	s.nextHash = start.Add(hashPace)
	s.hashMu.Unlock()
	time.Sleep(start.Sub(now))
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.postForm(w, r)
	if !ok {
		return
	}
	s.sessions.remove(sess.id)
	s.setSessionCookie(w, r, "")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// ---- organization ----

// signedIn loads the session's user; without one it redirects to /login
// and reports false.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, sess session) (userRecord, bool) {
	var u userRecord
	if sess.user != "" {
		if err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pUser+sess.user, &u) }); err == nil {
			return u, true
		}
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return u, false
}

func (s *Server) userOrgs(u userRecord) ([]orgRecord, error) {
	if u.vendor() {
		return s.allOrgs()
	}
	orgs := make([]orgRecord, 0, len(u.Orgs))
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range u.Orgs {
			var o orgRecord
			if err := getJSON(txn, pOrg+id, &o); err == nil {
				orgs = append(orgs, o)
			} else if !errors.Is(err, errNotFound) {
				return err
			}
		}
		return nil
	})
	return orgs, err
}

func (s *Server) handleOrgPage(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.currentSession(w, r, false)
	u, ok := s.signedIn(w, r, sess)
	if !ok {
		return
	}
	orgs, err := s.userOrgs(u)
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, sess, "Please try again.")
		return
	}
	s.render(w, http.StatusOK, "org", pageData{Title: "Choose organization", CSRF: sess.csrf, User: sess.user, Vendor: u.vendor(), Orgs: orgs, SelectedOrg: sess.org})
}

func (s *Server) handleOrg(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.postForm(w, r)
	if !ok {
		return
	}
	u, ok := s.signedIn(w, r, sess)
	if !ok {
		return
	}
	org := r.PostFormValue("org")
	if !s.memberOf(u, org) {
		s.renderError(w, http.StatusBadRequest, sess, "Choose one of your organizations.")
		return
	}
	sess.org = org
	s.sessions.save(sess)
	http.Redirect(w, r, "/device", http.StatusSeeOther)
}

// ---- authorize device ----

// deviceContext is what the device pages need: the user, the chosen
// organization and its devices.
type deviceContext struct {
	sess    session
	vendor  bool // the stored role, read on this request
	org     orgRecord
	devices []deviceRecord
}

// orgDevices redirects to /login or /org when the session lacks a user or
// an organization.
func (s *Server) orgDevices(w http.ResponseWriter, r *http.Request, sess session) (deviceContext, bool) {
	u, ok := s.signedIn(w, r, sess)
	if !ok {
		return deviceContext{}, false
	}
	if !s.memberOf(u, sess.org) {
		http.Redirect(w, r, "/org", http.StatusSeeOther)
		return deviceContext{}, false
	}
	dc := deviceContext{sess: sess, vendor: u.vendor()}
	err := s.db.View(func(txn *badger.Txn) error {
		if err := getJSON(txn, pOrg+sess.org, &dc.org); err != nil {
			return err
		}
		var err error
		dc.devices, err = orgDeviceList(txn, sess.org)
		return err
	})
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, sess, "Please try again.")
		return deviceContext{}, false
	}
	return dc, true
}

func (dc deviceContext) page(title string) pageData {
	return pageData{Title: title, CSRF: dc.sess.csrf, User: dc.sess.user, Vendor: dc.vendor, OrgName: dc.org.Name, Devices: dc.devices}
}

func (dc deviceContext) device(serverID string) (deviceRecord, bool) {
	for _, d := range dc.devices {
		if d.ServerID == serverID {
			return d, true
		}
	}
	return deviceRecord{}, false
}

func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.currentSession(w, r, true)
	if !ok {
		s.renderError(w, http.StatusServiceUnavailable, session{}, "Please try again.")
		return
	}
	// Remember the code from verification_uri_complete across sign-in.
	if q := r.URL.Query().Get("user_code"); q != "" {
		if code, valid := normalizeUserCode(q); valid {
			sess.prefill = formatUserCode(code)
			s.sessions.save(sess)
		}
	}
	// License Desk opens this page with its install code, so the page can
	// put this PC's device first; it is a hint for the list only, the
	// approval checks the install code of the code's own request.
	if q := r.URL.Query().Get("install_code"); q != "" {
		sess.install = cleanLabel(q, 64)
		s.sessions.save(sess)
	}
	dc, ok := s.orgDevices(w, r, sess)
	if !ok {
		return
	}
	d := dc.page("Authorize Device")
	d.UserCode = sess.prefill
	install := sess.install
	if _, rec, ok := s.lookupPending(sess.prefill, s.now()); ok && rec.InstallCode != "" {
		install = rec.InstallCode
	}
	markThisPC(&d, install)
	s.render(w, http.StatusOK, "device", d)
}

// markThisPC lists the device bound to install first and names it in
// d.ThisPC, so the person picks the right one in every deployment.
func markThisPC(d *pageData, install string) {
	want := wire.NormalizeInstallCode(install)
	if want == "" {
		return
	}
	for i, dev := range d.Devices {
		if dev.InstallCode != "" && wire.NormalizeInstallCode(dev.InstallCode) == want {
			d.ThisPC = dev.ServerID
			devs := append([]deviceRecord{dev}, d.Devices[:i]...)
			d.Devices = append(devs, d.Devices[i+1:]...)
			return
		}
	}
}

// matchWords says on the confirm page whether the chosen device is the PC
// asking, in words: a device bound to another install code never gets
// here (installMismatch refuses it).
func matchWords(d *pageData) {
	dev, asking := d.Device, d.Request.InstallCode
	switch {
	case asking == "":
		d.Mismatch = "The PC asking did not send an install code, so this page cannot check that it is " + dev.Name + ". Only continue if you are at that PC."
	case d.ThisPC == dev.ServerID:
		d.Match = "The install code of the PC asking is the one registered for " + dev.Name + " (" + dev.ServerID + ")."
	case d.ThisPC != "":
		other := d.Devices[0] // markThisPC put it first
		d.Mismatch = "The PC asking (install code " + asking + ") is registered as " + other.Name + " (" + other.ServerID + "), not as " +
			dev.Name + ". Approving gives it the license of " + dev.Name + ". Go back and choose " + other.Name + " unless you mean to move the license."
	default:
		d.Mismatch = dev.Name + " is not tied to a PC yet: approving ties it to the PC asking (install code " + asking +
			") for good. Check that this PC is " + dev.Name + "."
	}
}

// userCodeChecks are the limiters of wrong user codes: per IP and per
// session, so that neither many sessions nor many addresses help.
func (s *Server) userCodeChecks(r *http.Request, sess session) []limitCheck {
	return []limitCheck{{s.limits.codeIP, clientIP(r)}, {s.limits.codeSession, sess.id}}
}

// lookupLimited looks a typed user code up with a failure reserved first:
// a wrong code keeps it, a right one gives it back.
func (s *Server) lookupLimited(r *http.Request, sess session, typed string, now time.Time) (*liveCode, codeRecord, bool, time.Duration) {
	held, ok, wait := reserveAll(now, s.userCodeChecks(r, sess)...)
	if !ok {
		return nil, codeRecord{}, false, wait
	}
	c, rec, found := s.lookupPending(typed, now)
	if found {
		held.release()
	}
	return c, rec, found, 0
}

// lookupPending finds a live pending code by what the person typed.
func (s *Server) lookupPending(typed string, now time.Time) (*liveCode, codeRecord, bool) {
	code, valid := normalizeUserCode(typed)
	if !valid {
		return nil, codeRecord{}, false
	}
	s.codesMu.Lock()
	defer s.codesMu.Unlock()
	c := s.codes[s.byUser[code]]
	if c == nil || c.rec.Status != codePending || !now.Before(c.rec.ExpiresAt) {
		return nil, codeRecord{}, false
	}
	return c, c.rec, true
}

// devicePost is what both POSTs of the device pages have checked.
type devicePost struct {
	deviceContext
	code *liveCode
	rec  codeRecord
	dev  deviceRecord
}

// parseDevicePost is shared by the two POSTs of the device pages: CSRF,
// sign-in and organization, the rate limits, the chosen device and the user
// code. When something is wrong it answers itself (the device page with the
// reason) and reports false.
func (s *Server) parseDevicePost(w http.ResponseWriter, r *http.Request) (devicePost, bool) {
	sess, ok := s.postForm(w, r)
	if !ok {
		return devicePost{}, false
	}
	dc, ok := s.orgDevices(w, r, sess)
	if !ok {
		return devicePost{}, false
	}
	now := s.now()
	typed := r.PostFormValue("user_code")
	d := dc.page("Authorize Device")
	d.UserCode, d.SelectedDevice = cleanLabel(typed, maxUserCodeInput), r.PostFormValue("device")
	dev, ok := dc.device(d.SelectedDevice)
	if !ok {
		d.Error = "Choose a device from the list."
		s.render(w, http.StatusBadRequest, "device", d)
		return devicePost{}, false
	}
	c, rec, ok, wait := s.lookupLimited(r, dc.sess, typed, now)
	if wait > 0 {
		s.tooMany(w, "device", d, wait)
		return devicePost{}, false
	}
	if !ok {
		d.Error = "That code is not valid or has expired. Check the code shown on the device."
		s.render(w, http.StatusBadRequest, "device", d)
		return devicePost{}, false
	}
	if why := installMismatch(dev, rec.InstallCode); why != "" {
		s.renderError(w, http.StatusConflict, dc.sess, installRefusal(why))
		return devicePost{}, false
	}
	return devicePost{deviceContext: dc, code: c, rec: rec, dev: dev}, true
}

func (s *Server) handleDeviceSubmit(w http.ResponseWriter, r *http.Request) {
	p, ok := s.parseDevicePost(w, r)
	if !ok {
		return
	}
	if msg, usable := s.deviceLicenseUsable(p.dev); !usable {
		s.renderError(w, http.StatusConflict, p.sess, msg)
		return
	}
	d := p.page("Confirm device")
	d.Request, d.Device, d.UserCode = p.rec, p.dev, formatUserCode(p.rec.UserCode)
	markThisPC(&d, p.rec.InstallCode)
	matchWords(&d)
	s.render(w, http.StatusOK, "confirm", d)
}

// deviceLicenseUsable explains, before anyone approves, why a device would
// get no token.
func (s *Server) deviceLicenseUsable(dev deviceRecord) (string, bool) {
	var lic licenseRecord
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pLicense+dev.LicenseID, &lic) })
	if err != nil {
		return "The device " + dev.Name + " has no license.", false
	}
	if e := licenseUsable(&lic, s.now()); e != nil {
		return "The license of " + dev.Name + " cannot be used: " + e.Description + ".", false
	}
	return "", true
}

func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.parseDevicePost(w, r)
	if !ok {
		return
	}
	sess, dev := p.sess, p.dev
	approve := r.PostFormValue("action") == "approve"
	if !approve && r.PostFormValue("action") != "deny" {
		s.renderError(w, http.StatusBadRequest, sess, "Choose Authorize or Deny.")
		return
	}
	var wrongPC *installError
	switch err := s.decide(p.code, approve, dev.ServerID, sess.user); {
	case errors.As(err, &wrongPC):
		s.renderError(w, http.StatusConflict, sess, installRefusal(wrongPC.why))
		return
	case err != nil:
		s.renderError(w, http.StatusConflict, sess, err.Error())
		return
	}
	// The code is spent; forget it so a reload of a page does not show it.
	sess.prefill = ""
	s.sessions.save(sess)
	d := p.page("Device authorized")
	d.Device, d.Success = dev, approve
	if !approve {
		d.Title = "Request denied"
	}
	s.render(w, http.StatusOK, "result", d)
}

// decide approves or denies a pending code and makes the decision durable
// before the page says so. An approval binds a device without an install
// code to the install code of the PC asking, and is refused for a PC with
// another install code than the device's.
func (s *Server) decide(c *liveCode, approve bool, serverID, user string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	now := s.now()
	s.codesMu.Lock()
	if c.rec.Status != codePending || !now.Before(c.rec.ExpiresAt) {
		s.codesMu.Unlock()
		return errDecided
	}
	prev := c.rec
	c.rec.Status, c.rec.DecidedBy = codeDenied, user
	if approve {
		c.rec.Status, c.rec.ServerID = codeApproved, serverID
	}
	delete(s.byUser, c.rec.UserCode)
	rec := c.rec
	s.codesMu.Unlock()
	err := s.retryUpdate(func(txn *badger.Txn) error {
		if approve {
			if err := s.bindInstall(txn, serverID, rec.InstallCode); err != nil {
				return err
			}
		}
		if err := s.putCode(txn, &rec, now); err != nil {
			return err
		}
		action, subject := AuditDeviceDenied, serverID
		if approve {
			action = AuditDeviceApproved
		}
		return s.appendAudit(txn, AuditEntry{Actor: user, Action: action, Subject: subject,
			Detail: "user code " + formatUserCode(rec.UserCode) + " from PC " + orDefault(rec.DeviceName, "unnamed") + ", install code " + orDefault(rec.InstallCode, "none")})
	})
	if err != nil {
		s.codesMu.Lock()
		c.rec = prev
		s.addCodeLocked(c)
		s.codesMu.Unlock()
		if errors.Is(err, ErrInstallMismatch) {
			return err
		}
		s.log.Error().Err(err).Msg("store decision")
		return errors.New("the decision could not be saved; please try again")
	}
	s.log.Info().Str("user", user).Str("sub", serverID).Bool("approved", approve).Msg("device authorization decided")
	return nil
}

// ---- install codes ----

// installMismatch says why a PC may not have the device's license: its
// install code is not the one the device is bound to. It is "" when the
// PC may; a device bound to none takes any (and is bound on first use,
// bindInstall).
func installMismatch(dev deviceRecord, presented string) string {
	switch {
	case dev.InstallCode == "" || wire.NormalizeInstallCode(dev.InstallCode) == wire.NormalizeInstallCode(presented):
		return ""
	case wire.NormalizeInstallCode(presented) == "":
		return fmt.Sprintf("%s is licensed to the PC with install code %s, and the PC asking sent no install code", dev.Name, dev.InstallCode)
	}
	return fmt.Sprintf("%s is licensed to the PC with install code %s, not to the PC with install code %s", dev.Name, dev.InstallCode, presented)
}

func installMatches(dev deviceRecord, presented string) error {
	if why := installMismatch(dev, presented); why != "" {
		return &installError{why: why}
	}
	return nil
}

// bindInstall binds a device without an install code to presented, the
// install code of the first PC approved or entitled for it, and refuses
// any other PC afterwards.
func (s *Server) bindInstall(txn *badger.Txn, serverID, presented string) error {
	var dev deviceRecord
	if err := getJSON(txn, pDevice+serverID, &dev); err != nil {
		return err
	}
	if err := installMatches(dev, presented); err != nil || dev.InstallCode != "" || wire.NormalizeInstallCode(presented) == "" {
		return err
	}
	dev.InstallCode = presented
	s.log.Info().Str("sub", serverID).Str("install", presented).Msg("device bound to an install code")
	return putDevice(txn, &dev)
}

// installRefusal is the approval page's sentence for a PC with another
// install code.
func installRefusal(why string) string {
	return why + ". Nothing was approved: start the authorization on that PC, or choose the device of the PC asking."
}
