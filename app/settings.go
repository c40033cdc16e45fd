package app

import (
	"crypto/ed25519"
	"fmt"
	"sync"

	"licensedesk/licensecore"
	"licensedesk/licensecore/localapi"
	"licensedesk/licensecore/wire"
)

// settingsService keeps the settings in the agent's store: thresholds
// change at once; the Authorization server and its root key are the trust
// anchor and change only with an administrator (licensecore checks the
// session).
type settingsService struct {
	c       *core
	publish func(licensecore.Status)
	mu      sync.Mutex // orders reads and writes of c.settings
}

// Settings are the saved settings with the trust anchor in force.
func (s *settingsService) Settings() (localapi.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.c.settings
	out := localapi.Settings{
		AuthorityURL: s.c.mgr.AuthorityURL(), RenewalWindowDays: v.RenewalWindowDays,
		TokenWarnHours: v.TokenWarnHours, TokenWarnPercent: v.TokenWarnPercent,
		StartMinimized: v.StartMinimized, KeyStorage: s.c.keysIn,
	}
	if root := s.c.mgr.Root(); root != nil {
		out.RootKey = wire.EncodeRootKey(root)
	}
	if s.c.demo != nil {
		out.DemoAuthority = s.c.demo.url
	}
	return out, nil
}

// SaveSettings stores the thresholds and start-up choice; the authority's
// address and root key are left as they are (ChangeAuthority).
func (s *settingsService) SaveSettings(next localapi.Settings) error {
	s.mu.Lock()
	keep := s.c.settings
	keep.RenewalWindowDays, keep.TokenWarnHours, keep.TokenWarnPercent = next.RenewalWindowDays, next.TokenWarnHours, next.TokenWarnPercent
	keep.StartMinimized = next.StartMinimized
	if err := keep.Validate(); err != nil {
		s.mu.Unlock()
		return err
	}
	if err := s.c.mgr.SetPolicy(policyOf(keep)); err != nil {
		s.mu.Unlock()
		return err
	}
	if err := saveSettings(s.c.store, keep); err != nil {
		s.mu.Unlock()
		return err
	}
	s.c.settings = keep
	s.mu.Unlock()
	s.publish(s.c.mgr.Status())
	return nil
}

// ChangeAuthority changes the trust anchor (licensecore checks sess and
// the root) and saves the address.
func (s *settingsService) ChangeAuthority(sess *licensecore.AdminSession, url string, root ed25519.PublicKey, repin bool) error {
	if s.c.demo != nil {
		return fmt.Errorf("in demo mode the Authorization server is the built-in one (%s)", s.c.demo.url)
	}
	s.mu.Lock()
	if err := s.c.mgr.ChangeAuthority(sess, url, root, repin); err != nil {
		s.mu.Unlock()
		return err
	}
	s.c.settings.AuthorityURL = url
	err := saveSettings(s.c.store, s.c.settings)
	s.mu.Unlock()
	s.publish(s.c.mgr.Status())
	return err
}
