package providers

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// A Kind is the code a preset runs on: presets are data over a few
// constructors, and Kind names the one.
type Kind int

const (
	// KindOAuth2 is the generic OAuth2 provider (NewOAuth2).
	KindOAuth2 Kind = iota
	// KindOIDC is the OpenID Connect provider (NewOIDC): discovery from
	// IssuerURL and ID token verification.
	KindOIDC
	// KindGitHub is the GitHub provider (NewGitHub): e-mail addresses,
	// organisations and teams come from extra calls.
	KindGitHub
	// KindFacebook is the Facebook provider (NewFacebook): the generic
	// provider with appsecret_proof.
	KindFacebook
	// KindBitbucket is the Bitbucket provider (NewBitbucket): the e-mail
	// address and its flag come from an extra call.
	KindBitbucket
)

// String returns the kind's name: oauth2, oidc, github, facebook or
// bitbucket.
func (k Kind) String() string {
	switch k {
	case KindOAuth2:
		return "oauth2"
	case KindOIDC:
		return "oidc"
	case KindGitHub:
		return "github"
	case KindFacebook:
		return "facebook"
	case KindBitbucket:
		return "bitbucket"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// A Preset is the data behind one PROVIDER value: the defaults it gives the
// provider settings, and what an operator needs to know to register the
// client. Presets are tables over the generic provider (NewOAuth2) or the
// OIDC provider (NewOIDC), the way x/oauth2's endpoints are: no preset is a
// code path of its own, except GitHub (NewGitHub: e-mail addresses,
// organisations and teams come from extra calls), Bitbucket (NewBitbucket:
// e-mail addresses too) and, optionally, Facebook (NewFacebook:
// appsecret_proof). Kind names the constructor.
//
// Every field is a default that the matching setting overrides. Every URL a
// preset calls is one of its settings, so pointing AUTH_URL, TOKEN_URL,
// USERINFO_URL (and REFRESH_URL, REVOKE_URL) elsewhere moves the whole
// provider: to a self-hosted instance, a country host or a test double.
//
// URL fields may hold two placeholders, filled by Expand: {tenant}
// (Microsoft's TENANT) and {issuer} (the ISSUER_URL without its trailing
// slash: GitLab, Keycloak, Auth0).
type Preset struct {
	// Name is the PROVIDER value.
	Name string
	// DisplayName is the sign-in button's label (DISPLAY_NAME); empty for
	// the generic presets, whose button shows the provider id.
	DisplayName string
	// Kind says which constructor the preset runs on.
	Kind Kind

	// IssuerURL is the OIDC issuer, or the default one when the operator may
	// give their own (GitLab). Empty when the operator must give it (Needs).
	IssuerURL string
	// IssuerTrailingSlash says the provider's issuer ends with "/" (Auth0:
	// the ID token's iss is "https://TENANT.auth0.com/"). Expand then adds
	// the slash to an ISSUER_URL given without it, so that the issuer check
	// matches; for the other issuer-based presets it removes one.
	IssuerTrailingSlash bool
	// MultiTenant says the ID token's issuer names the user's tenant
	// ({tid}) rather than the configured one: Microsoft's common,
	// organizations and consumers tenants. Expand keeps it only for those.
	MultiTenant bool

	AuthURL     string
	TokenURL    string
	UserinfoURL string
	// RefreshURL is where refresh grants go when it is not TokenURL (WeChat).
	RefreshURL string
	// RevokeURL is an RFC 7009 revocation endpoint; empty when the provider
	// has none (GitHub's revocation is not RFC 7009, Facebook's neither).
	RevokeURL string
	// LogoutURL is the provider's end-session URL, where sign-out sends the
	// browser; empty when the provider has none.
	LogoutURL string
	// LogoutPath, for an OpenID Connect preset whose discovery advertises
	// no end-session endpoint, makes the end-session URL this path on the
	// authorization endpoint's host (Cognito's /logout on the user pool
	// domain); LOGOUT_URL still wins.
	LogoutPath string
	// ResponseMode, when set, is the response_mode the preset's provider
	// is asked for: "form_post" for one that answers only by a POST from
	// its own site (Settings.ResponseMode).
	ResponseMode string
	// LogoutRedirectParam names the end-session URL's parameter that says
	// where the provider sends the browser back: empty for OpenID Connect
	// RP-Initiated Logout's post_logout_redirect_uri (sent with
	// id_token_hint and client_id); "logout_uri" for Cognito's /logout,
	// which takes client_id and logout_uri only.
	LogoutRedirectParam string
	// TokenCheck is how the provider tells whose an opaque access token
	// is, for bearer and implicit-flow tokens, when it is not RFC 7662
	// introspection: Google's tokeninfo, GitHub's check-a-token, Facebook's
	// debug_token, Discord's current authorization. IntrospectionURL
	// (INTROSPECTION_URL) is where; empty for GitHub, Facebook and
	// Discord, whose check sits beside USERINFO_URL (see
	// BearerConfig.TokenCheck), and for the OIDC presets, whose discovery
	// may advertise an introspection_endpoint.
	TokenCheck       TokenCheck
	IntrospectionURL string
	// OpaqueAccessTokens and AccessTokenClaims tell the provider's access
	// tokens from its ID tokens when both are JWTs for this client (see
	// BearerConfig): Google's access tokens are never JWTs; Microsoft's
	// carry scp (delegated) or roles (application), Okta's cid and scp.
	OpaqueAccessTokens bool
	AccessTokenClaims  []string
	// TokenKindClaim names a claim of the provider's JWTs whose value
	// tells an access token (AccessTokenKind) from its other tokens:
	// Gitea's tt, 0 for access tokens, 1 for refresh tokens, which its
	// introspection answers about alike.
	TokenKindClaim, AccessTokenKind string
	// ClientIDClaim names the claim of a JWT access token that names the
	// client it was issued to when it has no aud (Cognito's client_id).
	ClientIDClaim string
	// IntrospectedClaims tell an introspection answer about an access
	// token from one about a refresh token (see BearerConfig): Okta's
	// about access tokens carry the token's jti.
	IntrospectedClaims []string
	// IntrospectJWTs sends JWT access tokens to introspection as well,
	// rather than checking them against the JWKS: Okta's org
	// authorization server's access tokens are JWTs that only Okta may
	// check, and every Okta access token names its audience (the API),
	// not the client, which only the introspection answer's client_id
	// does; Gitea's carry no issuer, audience or subject at all.
	IntrospectJWTs bool

	Scopes []string
	// TokenMethod is "GET" for token endpoints that take a query string
	// (WeChat); empty means the generic POST.
	TokenMethod string
	// TokenAuthStyle pins the client authentication where the provider
	// documents one; AuthStyleAuto leaves the generic auto-detection.
	TokenAuthStyle AuthStyle
	// ClientIDParam and ClientSecretParam rename client_id and client_secret
	// (WeChat appid and secret); empty means the standard names.
	ClientIDParam, ClientSecretParam string
	// AuthParams, TokenParams and UserinfoParams are extra parameters
	// (Facebook's fields=, WeChat's lang=).
	AuthParams, TokenParams, UserinfoParams url.Values
	// UserinfoMethod is "POST" where the provider documents it (Slack);
	// empty means GET.
	UserinfoMethod string
	// UserinfoToken is "query" or "body" where the access token does not go
	// in an Authorization header (WeChat); empty means header.
	UserinfoToken string
	// UserinfoTokenParam names the token for "query" and "body"; empty
	// means access_token.
	UserinfoTokenParam string
	// TokenUserIDField is the token-response field carrying the user id
	// (WeChat openid, Mercado Libre and Fitbit user_id).
	TokenUserIDField string
	// UserinfoUserIDParam sends that id to the userinfo URL (WeChat openid).
	UserinfoUserIDParam string

	// PKCE says whether to send an S256 code_challenge. It is off where the
	// provider rejects or mishandles it: WeChat; LinkedIn, which refuses a
	// code_verifier on its OIDC flow; Slack, whose openid.connect.token
	// fails with PKCE; Facebook, whose standard flow does not document it;
	// Mercado Libre, where PKCE is an application setting, off by default
	// and mandatory once ticked.
	PKCE bool

	// Claims are the claim paths of the preset; an empty list keeps the
	// generic default of that field (Claims.WithDefaults).
	Claims Claims
	// EmailVerifiedDefault is what an e-mail address is worth when the
	// provider sends no verification flag for it (the SPEC's "trusted as
	// the preset documents"): true counts it as verified, false as
	// unverified, which refuses the sign-in unless ALLOW_UNVERIFIED_EMAIL.
	// Providers that send email_verified (Google, GitLab, Keycloak, Auth0,
	// Slack, LinkedIn, Okta, Cognito) are trusted on the rare answer without it, as the
	// generic providers are. Facebook and Mercado Libre send no flag and are
	// trusted: Graph returns only an account's confirmed primary address
	// (absent otherwise, as for accounts made with a phone number), and a
	// Mercado Libre address is the account's confirmed sign-in address,
	// readable only with the user's own token; neither is stated as
	// verified in the sources of PROVIDERS.md, so an operator who must be
	// sure authorises on ids or groups rather than addresses. Microsoft is
	// not trusted (any tenant can set any mail, "nOAuth"): only the
	// optional xms_edov claim, mapped as the flag, vouches for an address.
	// GitHub's flag is per address, from /user/emails (see NewGitHub).
	// Fitbit and WeChat give no address at all.
	EmailVerifiedDefault bool

	// Deprecated, when not empty, is a warning to log at start-up: the
	// provider has retired or is retiring what the preset calls.
	Deprecated string
	// Console says what to do in the provider's developer console: where to
	// register the client, which redirect URI to register, what to enable.
	Console string
	// Needs lists the settings (by suffix, e.g. "ISSUER_URL") the operator
	// must give besides CLIENT_ID and CLIENT_SECRET.
	Needs []string
}

// LookupPreset returns the preset named by a PROVIDER value (case
// insensitive), as a copy the caller may change.
func LookupPreset(name string) (Preset, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, p := range presets {
		if p.Name == name {
			return p.clone(), true
		}
	}
	return Preset{}, false
}

// PresetNames returns the PROVIDER values, generic ones first.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

func (p Preset) clone() Preset {
	p.Scopes = slices.Clone(p.Scopes)
	p.Needs = slices.Clone(p.Needs)
	p.AccessTokenClaims = slices.Clone(p.AccessTokenClaims)
	p.IntrospectedClaims = slices.Clone(p.IntrospectedClaims)
	p.AuthParams = clonePresetValues(p.AuthParams)
	p.TokenParams = clonePresetValues(p.TokenParams)
	p.UserinfoParams = clonePresetValues(p.UserinfoParams)
	c := &p.Claims
	for _, l := range []*[]string{&c.ID, &c.Email, &c.EmailVerified, &c.Name, &c.GivenName, &c.FamilyName, &c.Username, &c.Groups, &c.Picture, &c.Locale} {
		*l = slices.Clone(*l)
	}
	if c.Attributes != nil {
		attrs := make([]Attribute, len(c.Attributes))
		for i, a := range c.Attributes {
			attrs[i] = Attribute{Name: a.Name, Paths: slices.Clone(a.Paths)}
		}
		c.Attributes = attrs
	}
	if c.Values != nil {
		vals := make(map[string]map[string]string, len(c.Values))
		for k, m := range c.Values {
			vals[k] = maps.Clone(m)
		}
		c.Values = vals
	}
	return p
}

func clonePresetValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// urls returns pointers to p's URL fields.
func (p *Preset) urls() []*string {
	return []*string{&p.AuthURL, &p.TokenURL, &p.UserinfoURL, &p.RefreshURL, &p.RevokeURL, &p.LogoutURL}
}

// Expand fills the URL templates of p. tenant is TENANT ("" means common);
// issuer is ISSUER_URL ("" keeps the preset's issuer). For the presets whose
// URLs derive from the issuer (GitLab, Keycloak, Auth0), {issuer} becomes
// the issuer without its trailing slash, and the issuer itself is written
// the way the provider writes it: with a trailing slash for Auth0, without
// one otherwise. A URL that still needs an issuer when none is known is
// left empty, so that the missing ISSUER_URL (see Needs) is what gets
// reported. MultiTenant is kept only for a tenant-independent issuer
// (Microsoft's common, organizations, consumers).
func (p Preset) Expand(tenant, issuer string) Preset {
	p = p.clone()
	if tenant == "" {
		tenant = "common"
	}
	tenant = url.PathEscape(tenant)
	iss := issuer
	if iss == "" {
		iss = p.IssuerURL
	}
	iss = strings.ReplaceAll(iss, "{tenant}", tenant)
	if iss != "" && p.issuerBased() {
		base := strings.TrimRight(iss, "/")
		iss = base
		if p.IssuerTrailingSlash {
			iss += "/"
		}
		for _, u := range p.urls() {
			*u = strings.ReplaceAll(*u, "{issuer}", base)
		}
	}
	p.IssuerURL = iss
	for _, u := range p.urls() {
		*u = strings.ReplaceAll(*u, "{tenant}", tenant)
		if strings.Contains(*u, "{issuer}") {
			*u = ""
		}
	}
	if p.MultiTenant {
		p.MultiTenant = presetMultiTenant(iss)
	}
	return p
}

// generic reports whether p is one of the generic presets (oauth2, oidc),
// which the operator's settings define: they have no display name of
// their own.
func (p Preset) generic() bool { return p.DisplayName == "" }

// issuerBased reports whether p's URLs derive from the issuer.
func (p *Preset) issuerBased() bool {
	for _, u := range p.urls() {
		if strings.Contains(*u, "{issuer}") {
			return true
		}
	}
	return false
}

// presetMultiTenant reports whether a Microsoft issuer names one of the
// tenant-independent authorities, whose ID tokens carry the user's own
// tenant in iss.
func presetMultiTenant(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	switch strings.ToLower(first) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}
