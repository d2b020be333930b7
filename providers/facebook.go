package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// FacebookOptions are the Facebook provider's own settings.
type FacebookOptions struct {
	// AppSecretProof adds appsecret_proof, hex(HMAC-SHA256(client secret,
	// access token)), to the Graph API userinfo call. Apps with "Require App
	// Secret" on refuse calls without it; Graph checks a proof it is given
	// whether or not the app requires one, so it is safe to send always.
	AppSecretProof bool
}

// NewFacebook returns the provider for the facebook preset applied to cfg.
// Facebook is the generic provider (its fields= parameter is data:
// USERINFO_PARAMS); the only behaviour that is not data is the optional
// appsecret_proof, added to the userinfo request on its way out. It does no
// I/O.
func NewFacebook(cfg Config, opts FacebookOptions) (*OAuth2, error) {
	if cfg.ID == "" {
		cfg.ID = "facebook"
	}
	if opts.AppSecretProof && cfg.ClientSecret != "" {
		cfg = withDefaults(cfg) // the HTTP client and USERINFO_TOKEN_PARAM
		client := *cfg.HTTPClient
		client.Transport = &appSecretProof{
			base:       baseTransport(cfg.HTTPClient),
			secret:     []byte(cfg.ClientSecret),
			userinfo:   trimURLQuery(cfg.UserinfoURL),
			tokenParam: cfg.UserinfoTokenParam,
		}
		cfg.HTTPClient = &client
	}
	return NewOAuth2(cfg)
}

// appSecretProof adds appsecret_proof to requests for the userinfo URL,
// computed from the access token they carry (Authorization: Bearer, or the
// token parameter of the query).
type appSecretProof struct {
	base       http.RoundTripper
	secret     []byte
	userinfo   string // USERINFO_URL without query
	tokenParam string
}

func (a *appSecretProof) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	if u.String() != a.userinfo {
		return a.base.RoundTrip(req)
	}
	token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok {
		token = req.URL.Query().Get(a.tokenParam)
	}
	if token == "" {
		return a.base.RoundTrip(req)
	}
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(token))
	out := req.Clone(req.Context())
	q := out.URL.Query()
	q.Set("appsecret_proof", hex.EncodeToString(mac.Sum(nil)))
	out.URL.RawQuery = q.Encode()
	return a.base.RoundTrip(out)
}
