package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// wellKnown is the path of the discovery document under the issuer.
const wellKnown = "/.well-known/openid-configuration"

// idTokenLifetime is how long an ID token is valid.
const idTokenLifetime = time.Hour

// validateOIDC reports the problems with the OpenID Connect options.
func (o *Options) validateOIDC() []error {
	var errs []error
	switch o.SigningAlg {
	case "", "RS256", "ES256":
	default:
		errs = append(errs, fmt.Errorf("SigningAlg: must be RS256 or ES256, got %q", o.SigningAlg))
	}
	if o.Issuer != "" && !strings.HasPrefix(o.Issuer, "http://") && !strings.HasPrefix(o.Issuer, "https://") {
		//lint:ignore ST1005 the message starts with the field's name, as Validate's all do
		errs = append(errs, fmt.Errorf("Issuer: must be an absolute http or https URL, got %q", o.Issuer))
	}
	if o.DiscoveryStatus != 0 && (o.DiscoveryStatus < 100 || o.DiscoveryStatus > 599) {
		errs = append(errs, fmt.Errorf("DiscoveryStatus: not an HTTP status: %d", o.DiscoveryStatus))
	}
	return errs
}

// baseURL is the server's base URL as the request reached it.
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// A signingKey signs ID tokens.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

// newSigningKey generates a key for alg ("RS256" or "ES256") with a new kid.
func newSigningKey(alg string) (*signingKey, error) {
	k := &signingKey{kid: randomString(0)[:16], alg: jose.SignatureAlgorithm(alg)}
	var err error
	switch k.alg {
	case jose.ES256:
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256:
		k.priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generating a %s key: %w", alg, err)
	}
	return k, nil
}

// public returns the key's public JWK, as the JWKS lists it.
func (k *signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// sign returns claims as a compact JWS with the typ header typ (none when
// typ is empty).
func (k *signingKey) sign(typ string, claims map[string]any) (string, error) {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// keyLocked returns the current signing key, making one when there is none
// or when SigningAlg changed. s.mu must be held.
func (s *Server) keyLocked(o *Options) (*signingKey, error) {
	if s.key == nil || string(s.key.alg) != o.SigningAlg {
		k, err := newSigningKey(o.SigningAlg)
		if err != nil {
			return nil, err
		}
		s.key = k
	}
	return s.key, nil
}

// RotateKey replaces the signing key with a new one under a new kid. ID
// tokens issued from now on are signed with it, and the JWKS lists only it:
// tokens signed with the old key no longer verify.
func (s *Server) RotateKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, err := newSigningKey(s.opts.SigningAlg); err == nil {
		s.key = k
	}
}

// discovery serves the OpenID Connect discovery document.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	o := s.count("discovery")
	if !o.OIDC {
		http.NotFound(w, r)
		return
	}
	if o.DiscoveryStatus != 0 {
		writeError(w, &oauthError{o.DiscoveryStatus, statusErrorCode(o.DiscoveryStatus), "answer injected by the test provider"})
		return
	}
	base := baseURL(r)
	issuer := o.Issuer
	if issuer == "" {
		issuer = base
	}
	auth := []string{"client_secret_basic", "client_secret_post"}
	switch o.ClientAuth {
	case "basic":
		auth = auth[:1]
	case "body":
		auth = auth[1:]
	}
	doc := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                base + "/authorize",
		"token_endpoint":                        base + "/token",
		"userinfo_endpoint":                     base + "/userinfo",
		"jwks_uri":                              base + "/jwks",
		"end_session_endpoint":                  base + "/logout",
		"revocation_endpoint":                   base + "/revoke",
		"introspection_endpoint":                base + "/introspect",
		"response_types_supported":              []string{"code", "token"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{o.SigningAlg},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"token_endpoint_auth_methods_supported": auth,
		"code_challenge_methods_supported":      []string{"S256", "plain"},
		"claims_supported": []string{
			"iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified",
			"name", "given_name", "family_name", "preferred_username", "groups", "tid",
		},
	}
	if o.Discovery != nil {
		o.Discovery(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}

// jwks serves the JSON Web Key Set: the current signing key only.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	o := s.count("jwks")
	if !o.OIDC {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	k, err := s.keyLocked(&o)
	s.mu.Unlock()
	if err != nil {
		writeError(w, &oauthError{http.StatusInternalServerError, "server_error", err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []jose.JSONWebKey{k.public()}})
}

// addIDTokenLocked adds an id_token for at's user to a token response when
// the server speaks OpenID Connect and the scope holds openid. nonce is the
// authorization request's, empty on refresh. s.mu must be held.
func (s *Server) addIDTokenLocked(resp map[string]any, at *grantToken, nonce string, o *Options) *oauthError {
	if !o.OIDC || !slices.Contains(strings.Fields(at.scope), "openid") {
		return nil
	}
	fail := func(err error) *oauthError {
		return &oauthError{http.StatusInternalServerError, "server_error", "signing the ID token: " + err.Error()}
	}
	key, err := s.keyLocked(o)
	if err != nil {
		return fail(err)
	}
	if o.SignWithUnknownKey {
		if s.forger == nil || s.forger.alg != key.alg {
			if s.forger, err = newSigningKey(o.SigningAlg); err != nil {
				return fail(err)
			}
		}
		key = &signingKey{kid: key.kid, alg: key.alg, priv: s.forger.priv}
	}
	claims := idTokenClaims(at.user, at.clientID, nonce, o)
	claims["at_hash"] = atHash(at.value)
	if o.IDTokenClaims != nil {
		o.IDTokenClaims(claims)
	}
	tok, err := key.sign("JWT", claims)
	if err != nil {
		return fail(err)
	}
	resp["id_token"] = tok
	s.ids[tok] = true
	return nil
}

// atHash is the at_hash of an ID token issued with accessToken (OpenID
// Connect Core 3.1.3.6): the left half of its SHA-256, base64url. RS256
// and ES256 both hash with SHA-256.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// IDToken mints an ID token for clientID about the user named username,
// signed with the JWKS key like the ones token responses carry, with nonce
// when it is not empty and no at_hash, after Options.IDTokenClaims. Its
// issuer is Options.Issuer, else baseURL (the server's URL). Tests use it
// as a token that is not an access token.
func (s *Server) IDToken(baseURL, clientID, username, nonce string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts
	u, ok := o.user(username)
	if !ok {
		return "", fmt.Errorf("idp: no user named %q", username)
	}
	if o.Issuer == "" {
		o.Issuer = strings.TrimRight(baseURL, "/")
	}
	key, err := s.keyLocked(&o)
	if err != nil {
		return "", err
	}
	claims := idTokenClaims(u, clientID, nonce, &o)
	if o.IDTokenClaims != nil {
		o.IDTokenClaims(claims)
	}
	tok, err := key.sign("JWT", claims)
	if err == nil {
		s.ids[tok] = true
	}
	return tok, err
}

// SignJWT signs claims with the JWKS key, under the typ header typ (none
// when empty): any JWT the provider could have issued, such as a logout
// token (typ logout+jwt).
func (s *Server) SignJWT(typ string, claims map[string]any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, err := s.keyLocked(&s.opts)
	if err != nil {
		return "", err
	}
	return key.sign(typ, claims)
}

// idTokenClaims returns the standard claims of an ID token for u; the
// caller applies Options.IDTokenClaims.
func idTokenClaims(u User, clientID, nonce string, o *Options) map[string]any {
	now := o.Now()
	sub, _ := idString(u.ID)
	iss := o.Issuer
	if o.TenantID != "" {
		iss = strings.ReplaceAll(iss, "{tenantid}", o.TenantID)
	}
	c := map[string]any{
		"iss": iss,
		"sub": sub,
		"aud": clientID,
		"exp": now.Add(idTokenLifetime).Unix(),
		"iat": now.Unix(),
	}
	set := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	set("nonce", nonce)
	set("email", u.Email)
	set("name", u.Name)
	set("preferred_username", u.Username)
	set("tid", o.TenantID)
	if u.EmailVerified != nil {
		c["email_verified"] = *u.EmailVerified
	}
	if u.Groups != nil {
		c["groups"] = u.Groups
	}
	withHostile(c, o.Hostile)
	return c
}
