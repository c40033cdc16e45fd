package wire

// RFC 8414 discovery: what an OAuth client reads at PathMetadata to
// configure itself from the issuer URL alone.

// PathMetadata is where the authority publishes its metadata (RFC 8414 §3).
const PathMetadata = "/.well-known/oauth-authorization-server"

// Grant types the authority serves.
const (
	GrantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	GrantRefreshToken = "refresh_token"
)

// AuthorizationServerMetadata is the RFC 8414 §2 document, with the
// members RFC 8628 §4 (device authorization) and RFC 9449 §5.1 (DPoP) add.
// Endpoints are absolute URLs under Issuer.
type AuthorizationServerMetadata struct {
	Issuer                            string   `json:"issuer"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported     []string `json:"dpop_signing_alg_values_supported"`
	// SignedJWKSURI is this protocol's own member: the key set signed by
	// the root key (PathSignedJWKS).
	SignedJWKSURI string `json:"signed_jwks_uri,omitempty"`
}
