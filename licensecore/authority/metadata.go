package authority

import (
	"encoding/json"
	"net/http"

	"licensedesk/licensecore/wire"
)

// metadata is the RFC 8414 document for this issuer: everything a
// standard OAuth client needs to run the device flow against it.
func (s *Server) metadata() wire.AuthorizationServerMetadata {
	iss := s.opts.Issuer
	return wire.AuthorizationServerMetadata{
		Issuer:                            iss,
		DeviceAuthorizationEndpoint:       iss + "/device/authorize",
		TokenEndpoint:                     iss + "/token",
		JWKSURI:                           iss + "/.well-known/jwks.json",
		GrantTypesSupported:               []string{wire.GrantDeviceCode, wire.GrantRefreshToken},
		ResponseTypesSupported:            []string{}, // no authorization endpoint: the device flow needs none
		TokenEndpointAuthMethodsSupported: []string{"none"},
		DPoPSigningAlgValuesSupported:     []string{"EdDSA"},
		SignedJWKSURI:                     iss + wire.PathSignedJWKS,
	}
}

// Metadata returns the authorization server metadata served at
// wire.PathMetadata.
func (s *Server) Metadata() wire.AuthorizationServerMetadata { return s.metadata() }

func (s *Server) handleMetadata(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_ = json.NewEncoder(w).Encode(s.metadata())
}
