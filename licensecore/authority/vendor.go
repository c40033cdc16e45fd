package authority

// The vendor's pages (vendor staff only, roles.go):
//
//	GET  /licenses        every organization's devices and licenses: table#licenses with one
//	                      tr#licence-<id> each (td.state); form.revoke-form (button.revoke) per live
//	                      license; form#rotate-form with button#rotate-key; nav link a#nav-licenses
//	POST /licenses/revoke csrf_token, licence_id → the page with p#vendor-message
//	POST /keys/rotate     csrf_token → the page with p#vendor-message
//	GET  /audit           the newest audit entries (table#audit, one tr.audit-entry each) and
//	                      p#audit-verified or p#audit-broken; nav link a#nav-audit
//	GET  /audit.jsonl     the whole log as JSON lines (application/jsonl, an attachment)

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// auditPageEntries is how many entries the Audit page shows.
const auditPageEntries = 200

// vendorData feeds licenses.html and audit.html.
type vendorData struct {
	pageData
	Licenses    []licenseView
	ActiveKid   string
	Audit       []AuditEntry
	AuditError  string
	AuditLength int
}

type licenseView struct {
	licenseRecord
	OrgName, DeviceName string
	Expired             bool
}

func (s *Server) registerVendor(mux *http.ServeMux) {
	mux.HandleFunc("GET /licenses", s.handleLicensesPage)
	mux.HandleFunc("POST /licenses/revoke", s.handleRevoke)
	mux.HandleFunc("POST /keys/rotate", s.handleRotate)
	mux.HandleFunc("GET /audit", s.handleAuditPage)
	mux.HandleFunc("GET /audit.jsonl", s.handleAuditExport)
}

// vendorPage checks a vendor page's request (a POST's CSRF token too) and
// starts its data.
func (s *Server) vendorPage(w http.ResponseWriter, r *http.Request, title string) (session, vendorData, bool) {
	var sess session
	if r.Method == http.MethodPost {
		var ok bool
		if sess, ok = s.postForm(w, r); !ok {
			return sess, vendorData{}, false
		}
	} else {
		sess, _ = s.currentSession(w, r, false)
	}
	if _, ok := s.vendorOnly(w, r, sess); !ok {
		return sess, vendorData{}, false
	}
	return sess, vendorData{pageData: pageData{Title: title, CSRF: sess.csrf, User: sess.user, Vendor: true}}, true
}

// licenseViews lists every license with its organization and device.
func (s *Server) licenseViews() ([]licenseView, error) {
	var out []licenseView
	now := s.now()
	err := s.db.View(func(txn *badger.Txn) error {
		orgs := map[string]string{}
		if err := scanJSON(txn, pOrg, func(o *orgRecord) error { orgs[o.ID] = o.Name; return nil }); err != nil {
			return err
		}
		devices := map[string]deviceRecord{}
		if err := scanJSON(txn, pDevice, func(d *deviceRecord) error { devices[d.ServerID] = *d; return nil }); err != nil {
			return err
		}
		return scanJSON(txn, pLicense, func(l *licenseRecord) error {
			dev := devices[l.ServerID]
			out = append(out, licenseView{licenseRecord: *l, OrgName: orgs[dev.OrgID], DeviceName: dev.Name, Expired: l.expired(now)})
			return nil
		})
	})
	slices.SortFunc(out, func(a, b licenseView) int {
		return strings.Compare(a.OrgName+"\x00"+a.ID, b.OrgName+"\x00"+b.ID)
	})
	return out, err
}

func (s *Server) renderLicenses(w http.ResponseWriter, status int, d vendorData) {
	var err error
	if d.Licenses, err = s.licenseViews(); err != nil {
		s.renderError(w, http.StatusInternalServerError, session{}, "Please try again.")
		return
	}
	d.ActiveKid = s.keys.activeKey().kid
	s.renderPage(w, status, "licenses", d)
}

func (s *Server) handleLicensesPage(w http.ResponseWriter, r *http.Request) {
	if _, d, ok := s.vendorPage(w, r, "Licenses"); ok {
		s.renderLicenses(w, http.StatusOK, d)
	}
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	sess, d, ok := s.vendorPage(w, r, "Licenses")
	if !ok {
		return
	}
	id := r.PostFormValue("licence_id")
	switch err := s.revoke(id, sess.user); {
	case errors.Is(err, ErrUnknownLicense):
		d.Error = "There is no such license."
		s.renderLicenses(w, http.StatusNotFound, d)
	case err != nil:
		d.Error = "The license could not be revoked; please try again."
		s.renderLicenses(w, http.StatusInternalServerError, d)
	default:
		d.Message = fmt.Sprintf("License %s is revoked: its device gets no new token.", id)
		s.renderLicenses(w, http.StatusOK, d)
	}
}

func (s *Server) handleRotate(w http.ResponseWriter, r *http.Request) {
	sess, d, ok := s.vendorPage(w, r, "Licenses")
	if !ok {
		return
	}
	if err := s.rotateKey(sess.user); err != nil {
		s.log.Error().Err(err).Msg("rotate key")
		d.Error = "The signing key could not be rotated; please try again."
		s.renderLicenses(w, http.StatusInternalServerError, d)
		return
	}
	d.Message = "A new signing key signs from now on: " + s.keys.activeKey().kid + "."
	s.renderLicenses(w, http.StatusOK, d)
}

func (s *Server) handleAuditPage(w http.ResponseWriter, r *http.Request) {
	_, d, ok := s.vendorPage(w, r, "Audit")
	if !ok {
		return
	}
	n, err := s.auditLength()
	d.AuditLength = n
	if err == nil {
		d.Audit, err = s.recentAudit(auditPageEntries)
	}
	if err != nil {
		if !errors.Is(err, ErrAuditBroken) {
			s.renderError(w, http.StatusInternalServerError, d.sessionLike(), "Please try again.")
			return
		}
		d.AuditError = strings.TrimPrefix(err.Error(), "authority: ")
	}
	s.renderPage(w, http.StatusOK, "audit", d)
}

// sessionLike is what renderError needs of the page's session.
func (d vendorData) sessionLike() session {
	return session{csrf: d.CSRF, user: d.User, vendor: d.Vendor}
}

// auditLength is the head's sequence number: the entries written so far.
func (s *Server) auditLength() (int, error) {
	var head auditHead
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, kAuditHead, &head) })
	if errors.Is(err, errNotFound) {
		err = nil
	}
	return int(head.Seq), err
}

func (s *Server) handleAuditExport(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.vendorPage(w, r, "Audit"); !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jsonl")
	h.Set("Content-Disposition", `attachment; filename="authority-audit.jsonl"`)
	h.Set("Cache-Control", "no-store")
	if err := s.exportAudit(w); err != nil {
		// The lines so far are sent; a broken chain ends the file early,
		// and the log says why.
		s.log.Error().Err(err).Msg("audit export")
	}
}
