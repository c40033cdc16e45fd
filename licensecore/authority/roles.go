package authority

// Roles. The authority serves two kinds of people: the vendor's staff, who
// own the licenses, and the customers' users. A customer's user authorizes
// the organization's devices, sees them and asks for changes (a switch
// between perpetual and subscription is asked for by License Desk itself);
// vendor staff decide those requests, issue licenses offline, revoke,
// rotate the signing key, create customers and read the audit log, for
// every organization.

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Role is what a user may do on the pages.
type Role string

// Roles of a UserSeed. A user seeded without a role is a customer: the
// least a seed can grant.
const (
	RoleCustomer Role = "customer"
	RoleVendor   Role = "vendor"
)

// normalize maps the empty role to RoleCustomer and refuses unknown ones.
func (r Role) normalize() (Role, error) {
	switch r {
	case "", RoleCustomer:
		return RoleCustomer, nil
	case RoleVendor:
		return RoleVendor, nil
	}
	return "", fmt.Errorf("%w: role %q is neither %q nor %q", ErrInvalidSeed, r, RoleVendor, RoleCustomer)
}

func (u userRecord) vendor() bool { return u.Role == RoleVendor }

// memberOf reports whether u may act in org: vendor staff in every
// organization that exists, a customer's user in its own.
func (s *Server) memberOf(u userRecord, org string) bool {
	if org == "" {
		return false
	}
	if !u.vendor() {
		return slices.Contains(u.Orgs, org)
	}
	err := s.db.View(func(txn *badger.Txn) error { var o orgRecord; return getJSON(txn, pOrg+org, &o) })
	return err == nil
}

// allOrgs lists every organization, for vendor staff.
func (s *Server) allOrgs() ([]orgRecord, error) {
	var orgs []orgRecord
	err := s.db.View(func(txn *badger.Txn) error {
		return scanJSON(txn, pOrg, func(o *orgRecord) error { orgs = append(orgs, *o); return nil })
	})
	return orgs, err
}

// vendorOnly loads the signed-in user and lets vendor staff through; a
// customer's user gets 403 with the reason, and nobody signed in goes to
// /login.
func (s *Server) vendorOnly(w http.ResponseWriter, r *http.Request, sess session) (userRecord, bool) {
	u, ok := s.signedIn(w, r, sess)
	if !ok {
		return u, false
	}
	if !u.vendor() {
		s.renderError(w, http.StatusForbidden, sess, "Only the license vendor's staff may do this. Ask your license vendor.")
		return u, false
	}
	return u, true
}
