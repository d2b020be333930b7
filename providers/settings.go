package providers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Settings are one provider's settings as the operator gave them: the
// PORTCULLIS_[<ID>_]… provider variables of the SPEC, without their
// prefix. A setting left empty ("", an empty list, nil PKCE) takes its
// preset's value, else the generic default; Resolve says what each one
// comes to.
type Settings struct {
	// ID names the provider (X-User-Provider, /oauth2/start?provider=,
	// metrics, errors).
	ID string
	// Prefix starts each setting's name in errors: "PORTCULLIS_" or
	// "PORTCULLIS_CORP_". Every error of Resolve and Build starts with the
	// full name of the variable it is about.
	Prefix string
	// Preset is PROVIDER, a name LookupPreset knows.
	Preset string

	DisplayName            string
	ClientID, ClientSecret string
	// IssuerURL and Tenant fill the preset's URL templates (Preset.Expand).
	IssuerURL, Tenant string
	AuthURL           string
	TokenURL          string
	UserinfoURL       string
	RefreshURL        string
	LogoutURL         string
	RevokeURL         string
	IntrospectionURL  string
	RedirectURL       string
	Scopes            []string
	// ResponseType is "code" or "token" (the implicit flow).
	ResponseType string
	// ResponseMode is the response_mode the authorization URL asks for:
	// "form_post" (the provider POSTs its answer to the callback from its
	// own site), "query", or "" (none sent: the provider's default).
	ResponseMode string
	// AuthPassthroughParams are the query parameters /oauth2/start
	// forwards to the authorization URL (AUTH_PASSTHROUGH_PARAMS); none
	// may be one the sign-in sets itself (ProtectedAuthParam).
	AuthPassthroughParams []string
	// PKCE says whether to send a PKCE S256 code_challenge.
	PKCE *bool
	// TokenMethod is GET or POST; TokenAuthStyle auto, header or params.
	TokenMethod, TokenAuthStyle      string
	ClientIDParam, ClientSecretParam string
	AuthParams, TokenParams          url.Values
	UserinfoParams                   url.Values
	UserinfoMethod                   string
	UserinfoToken                    string
	UserinfoTokenParam               string
	TokenUserIDField                 string
	UserinfoUserIDParam              string
	// Claims are the CLAIM_* paths; each empty list takes the preset's,
	// else the default (Claims.WithDefaults).
	Claims Claims

	// BearerTokens (BEARER_TOKENS) accepts machine clients' bearer tokens,
	// checked by a BearerValidator that Build makes.
	BearerTokens bool
	// BearerAudiences (BEARER_AUDIENCES) are accepted besides ClientID.
	BearerAudiences []string
	// BearerAllowUnbound (BEARER_ALLOW_UNBOUND) accepts opaque tokens of a
	// provider that can't tell whose they are (see BearerConfig).
	BearerAllowUnbound bool
}

// Resolved are a provider's settings with its preset applied.
type Resolved struct {
	// Settings are the values in effect: the operator's, else the
	// preset's, else the generic default. An OIDC preset's authorization,
	// token and userinfo endpoints stay empty unless the operator set
	// them: discovery supplies them.
	Settings
	// Preset is the preset, expanded with TENANT and ISSUER_URL.
	Preset Preset
	// FromPreset holds the settings (by name without prefix, such as
	// "TOKEN_METHOD") whose value the preset supplied.
	FromPreset map[string]bool
}

// Resolve applies s's preset to s. It is pure: no I/O. Its error joins
// every problem, each starting with the variable's full name: an unknown
// preset, a setting the preset needs, and settings without which the
// provider can't tell whether a bearer or implicit-flow token was issued
// to this client.
func Resolve(s Settings) (*Resolved, error) {
	p, ok := LookupPreset(s.Preset)
	if !ok {
		return nil, fmt.Errorf("%sPROVIDER: unknown provider %q; one of %s", s.Prefix, s.Preset, strings.Join(PresetNames(), ", "))
	}
	p = p.Expand(s.Tenant, s.IssuerURL)
	r := &Resolved{Settings: s, Preset: p, FromPreset: map[string]bool{}}
	r.Settings.Preset = p.Name
	r.apply()
	if err := errors.Join(r.problems()...); err != nil {
		return nil, err
	}
	return r, nil
}

// apply fills the empty settings with the preset's values, then with the
// generic defaults.
func (r *Resolved) apply() {
	s, p := &r.Settings, r.Preset
	str := func(setting string, dst *string, v string) {
		if *dst == "" && v != "" {
			*dst = v
			r.FromPreset[setting] = true
		}
	}
	list := func(setting string, dst *[]string, v []string) {
		if len(*dst) == 0 && len(v) > 0 {
			*dst = v
			r.FromPreset[setting] = true
		}
	}
	vals := func(setting string, dst *url.Values, v url.Values) {
		if len(*dst) == 0 && len(v) > 0 {
			*dst = v
			r.FromPreset[setting] = true
		}
	}
	str("DISPLAY_NAME", &s.DisplayName, p.DisplayName)
	str("ISSUER_URL", &s.IssuerURL, p.IssuerURL)
	s.IssuerURL = p.IssuerURL // as Expand writes it
	if p.Kind != KindOIDC {
		// For OpenID Connect, discovery supplies the endpoints the
		// operator didn't.
		str("AUTH_URL", &s.AuthURL, p.AuthURL)
		str("TOKEN_URL", &s.TokenURL, p.TokenURL)
		str("USERINFO_URL", &s.UserinfoURL, p.UserinfoURL)
	}
	str("REFRESH_URL", &s.RefreshURL, p.RefreshURL)
	str("LOGOUT_URL", &s.LogoutURL, p.LogoutURL)
	str("REVOKE_URL", &s.RevokeURL, p.RevokeURL)
	str("INTROSPECTION_URL", &s.IntrospectionURL, p.IntrospectionURL)
	str("INTROSPECTION_URL", &s.IntrospectionURL, checkEndpoint(p.TokenCheck, s.UserinfoURL))
	list("SCOPES", &s.Scopes, p.Scopes)
	str("RESPONSE_MODE", &s.ResponseMode, p.ResponseMode)
	if s.PKCE == nil {
		pkce := p.PKCE
		s.PKCE = &pkce
		r.FromPreset["PKCE"] = true
	}
	str("TOKEN_METHOD", &s.TokenMethod, p.TokenMethod)
	if p.TokenAuthStyle != AuthStyleAuto {
		str("TOKEN_AUTH_STYLE", &s.TokenAuthStyle, p.TokenAuthStyle.String())
	}
	str("CLIENT_ID_PARAM", &s.ClientIDParam, p.ClientIDParam)
	str("CLIENT_SECRET_PARAM", &s.ClientSecretParam, p.ClientSecretParam)
	vals("AUTH_PARAMS", &s.AuthParams, p.AuthParams)
	vals("TOKEN_PARAMS", &s.TokenParams, p.TokenParams)
	vals("USERINFO_PARAMS", &s.UserinfoParams, p.UserinfoParams)
	str("USERINFO_METHOD", &s.UserinfoMethod, p.UserinfoMethod)
	str("USERINFO_TOKEN", &s.UserinfoToken, p.UserinfoToken)
	str("USERINFO_TOKEN_PARAM", &s.UserinfoTokenParam, p.UserinfoTokenParam)
	str("TOKEN_USER_ID_FIELD", &s.TokenUserIDField, p.TokenUserIDField)
	str("USERINFO_USER_ID_PARAM", &s.UserinfoUserIDParam, p.UserinfoUserIDParam)
	c, pc := &s.Claims, &p.Claims
	list("CLAIM_ID", &c.ID, pc.ID)
	list("CLAIM_EMAIL", &c.Email, pc.Email)
	list("CLAIM_EMAIL_VERIFIED", &c.EmailVerified, pc.EmailVerified)
	list("CLAIM_NAME", &c.Name, pc.Name)
	list("CLAIM_GIVEN_NAME", &c.GivenName, pc.GivenName)
	list("CLAIM_FAMILY_NAME", &c.FamilyName, pc.FamilyName)
	list("CLAIM_USERNAME", &c.Username, pc.Username)
	list("CLAIM_GROUPS", &c.Groups, pc.Groups)
	list("CLAIM_PICTURE", &c.Picture, pc.Picture)
	list("CLAIM_LOCALE", &c.Locale, pc.Locale)
	if len(c.Attributes) == 0 && len(pc.Attributes) > 0 {
		c.Attributes = pc.Attributes
		r.FromPreset["CLAIM_ATTRIBUTES"] = true
	}
	if len(c.Values) == 0 && len(pc.Values) > 0 {
		c.Values = pc.Values
		r.FromPreset["CLAIM_VALUES"] = true
	}

	// The generic defaults, as NewOAuth2 fills them.
	d := withDefaults(Config{})
	or := orDefault
	or(&s.ResponseType, d.ResponseType)
	or(&s.TokenMethod, d.TokenMethod)
	or(&s.TokenAuthStyle, d.TokenAuthStyle.String())
	or(&s.ClientIDParam, d.ClientIDParam)
	or(&s.ClientSecretParam, d.ClientSecretParam)
	or(&s.UserinfoMethod, d.UserinfoMethod)
	or(&s.UserinfoToken, d.UserinfoToken)
	or(&s.UserinfoTokenParam, d.UserinfoTokenParam)
	s.Claims = s.Claims.WithDefaults()
}

// problems are what keeps the resolved settings from making a provider
// that the configuration alone can tell: settings the preset needs, and
// those a token check needs.
func (r *Resolved) problems() []error {
	s, p := &r.Settings, r.Preset
	var errs []error
	for _, need := range p.Needs {
		if r.setting(need) != "" {
			continue
		}
		if p.generic() {
			errs = append(errs, fmt.Errorf("%s%s: required with %sPROVIDER=%s", s.Prefix, need, s.Prefix, p.Name))
		} else {
			errs = append(errs, fmt.Errorf("%s%s: required by the %s preset", s.Prefix, need, p.Name))
		}
	}
	for _, name := range s.AuthPassthroughParams {
		if ProtectedAuthParam(name, s.ClientIDParam) {
			errs = append(errs, fmt.Errorf("%sAUTH_PASSTHROUGH_PARAMS: %q is a parameter the sign-in sets itself; a client may never set it", s.Prefix, name))
		}
	}
	// Bearer tokens of a provider that can't tell whose they are are
	// refused at run time (an OIDC provider's discovery may still bring an
	// introspection endpoint); the implicit flow could then sign no one
	// in, so it is refused here.
	implicit := s.ResponseType == "token"
	if !s.BearerTokens && !implicit {
		return errs
	}
	if implicit && s.IntrospectionURL == "" && p.TokenCheck == CheckIntrospection && !s.BearerAllowUnbound {
		errs = append(errs, errors.New(s.Prefix+"INTROSPECTION_URL: required with RESPONSE_TYPE=token: the provider must confirm that "+
			"the implicit flow's access token was issued to this client (RFC 7662 introspection); "+
			"PORTCULLIS_BEARER_ALLOW_UNBOUND=true accepts any token its userinfo URL accepts instead, other apps' included"))
	}
	if (p.TokenCheck == CheckGitHub || p.TokenCheck == CheckFacebook) && s.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("%sCLIENT_SECRET: required by the %s preset's token check (BEARER_TOKENS, RESPONSE_TYPE=token)", s.Prefix, p.Name))
	}
	return errs
}

// setting returns the value of a setting the presets may need, by name
// without prefix.
func (r *Resolved) setting(name string) string {
	switch name {
	case "ISSUER_URL":
		return r.Preset.IssuerURL
	case "AUTH_URL":
		return r.AuthURL
	case "TOKEN_URL":
		return r.TokenURL
	case "USERINFO_URL":
		return r.UserinfoURL
	}
	return ""
}

// config returns the generic provider's settings.
func (r *Resolved) config() Config {
	s := &r.Settings
	return Config{
		ID:                  s.ID,
		ClientID:            s.ClientID,
		ClientSecret:        s.ClientSecret,
		AuthURL:             s.AuthURL,
		TokenURL:            s.TokenURL,
		UserinfoURL:         s.UserinfoURL,
		RefreshURL:          s.RefreshURL,
		RevokeURL:           s.RevokeURL,
		RedirectURL:         s.RedirectURL,
		Scopes:              s.Scopes,
		ResponseType:        s.ResponseType,
		TokenMethod:         s.TokenMethod,
		TokenAuthStyle:      parseAuthStyle(s.TokenAuthStyle),
		ClientIDParam:       s.ClientIDParam,
		ClientSecretParam:   s.ClientSecretParam,
		AuthParams:          s.AuthParams,
		TokenParams:         s.TokenParams,
		UserinfoParams:      s.UserinfoParams,
		UserinfoMethod:      s.UserinfoMethod,
		UserinfoToken:       s.UserinfoToken,
		UserinfoTokenParam:  s.UserinfoTokenParam,
		TokenUserIDField:    s.TokenUserIDField,
		UserinfoUserIDParam: s.UserinfoUserIDParam,
		Claims:              s.Claims,
	}
}

// parseAuthStyle reads TOKEN_AUTH_STYLE: auto, header or params
// (case-insensitive); anything else is auto.
func parseAuthStyle(s string) AuthStyle {
	switch strings.ToLower(s) {
	case "header":
		return AuthStyleHeader
	case "params":
		return AuthStyleParams
	}
	return AuthStyleAuto
}
