package providers

import "strings"

// protectedAuthParams are the authorization request's parameters that the
// sign-in sets itself, or that would change what it asks for: the client
// and where its answer goes (client_id, redirect_uri, response_type,
// response_mode), what is granted (scope, resource, audience,
// authorization_details), what binds the answer to the browser (state,
// nonce, code_challenge, code_challenge_method), and a request object,
// whose values supersede the URL's (request, request_uri). Secrets and
// client assertions belong to no authorization URL.
var protectedAuthParams = []string{
	"client_id", "client_secret", "client_assertion", "client_assertion_type",
	"redirect_uri", "response_type", "response_mode",
	"scope", "resource", "audience", "authorization_details",
	"state", "nonce", "code_challenge", "code_challenge_method", "code_verifier",
	"request", "request_uri",
}

// ProtectedAuthParam reports whether a client may never set the
// authorization URL's parameter name through /oauth2/start
// (AUTH_PASSTHROUGH_PARAMS): one of the sign-in's own, or the provider's
// name for its client id (clientIDParam, CLIENT_ID_PARAM). Names are
// compared without regard to case, since some providers read them so.
func ProtectedAuthParam(name, clientIDParam string) bool {
	if clientIDParam != "" && strings.EqualFold(name, clientIDParam) {
		return true
	}
	for _, p := range protectedAuthParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}
