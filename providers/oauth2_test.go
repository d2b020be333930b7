package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

const (
	testClientID     = "client-1"
	testClientSecret = "s3cret-value"
)

// serve starts a fake provider for the test's lifetime.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// answer writes a body with a status and content type.
func answer(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func answerJSON(w http.ResponseWriter, status int, body string) {
	answer(w, status, "application/json", body)
}

// mismatch is how a fake tells the test a request was not what it expected:
// an RFC 6749 error the test then prints.
func mismatch(w http.ResponseWriter, format string, args ...any) {
	answerJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error":"test_mismatch","error_description":%q}`, fmt.Sprintf(format, args...)))
}

// followAuthorize GETs an authorization URL on srv as a browser would,
// without following the redirect, and returns where the 302 sends the
// browser back (the callback URL with code and state).
func followAuthorize(t *testing.T, srv *httptest.Server, authURL string) *url.URL {
	t.Helper()
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("GET %s: %v", authURL, err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, Location %q; want 302", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc
}

// newTestProvider fills the URLs from srv and the client credentials.
func newTestProvider(t *testing.T, srv *httptest.Server, cfg Config) *OAuth2 {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "corp"
	}
	cfg.ClientID, cfg.ClientSecret = testClientID, testClientSecret
	if cfg.AuthURL == "" {
		cfg.AuthURL = srv.URL + "/authorize"
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = srv.URL + "/token"
	}
	if cfg.UserinfoURL == "" {
		cfg.UserinfoURL = srv.URL + "/userinfo"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = srv.Client()
	}
	p, err := NewOAuth2(cfg)
	if err != nil {
		t.Fatalf("NewOAuth2: %v", err)
	}
	return p
}

// basicOnly is a token endpoint that accepts client credentials only in
// HTTP Basic; bodyOnly only in the form body.
func basicOnly(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != testClientID || secret != testClientSecret || r.PostFormValue("client_secret") != "" {
		answerJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"Basic required"}`)
		return
	}
	answerJSON(w, http.StatusOK, `{"access_token":"AT-basic","token_type":"Bearer"}`)
}

func bodyOnly(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" || r.PostFormValue("client_id") != testClientID || r.PostFormValue("client_secret") != testClientSecret {
		answerJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"body required"}`)
		return
	}
	answerJSON(w, http.StatusOK, `{"access_token":"AT-body","token_type":"Bearer"}`)
}

func TestExchangeClientAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		style    AuthStyle
		endpoint http.HandlerFunc
		want     string // access token; "" means ErrRejected
	}{
		{"header against Basic-only", AuthStyleHeader, basicOnly, "AT-basic"},
		{"header against body-only", AuthStyleHeader, bodyOnly, ""},
		{"params against body-only", AuthStyleParams, bodyOnly, "AT-body"},
		{"params against Basic-only", AuthStyleParams, basicOnly, ""},
		{"auto against Basic-only", AuthStyleAuto, basicOnly, "AT-basic"},
		{"auto against body-only", AuthStyleAuto, bodyOnly, "AT-body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, tc.endpoint)
			p := newTestProvider(t, srv, Config{TokenAuthStyle: tc.style})
			for range 2 { // auto: the second call uses the remembered style
				got, err := p.Exchange(t.Context(), "the-code")
				if tc.want == "" {
					if !errors.Is(err, ErrRejected) {
						t.Fatalf("Exchange = %v, %v; want ErrRejected", got, err)
					}
					continue
				}
				if err != nil || got.AccessToken != tc.want {
					t.Fatalf("Exchange = %+v, %v; want access token %q", got, err, tc.want)
				}
			}
		})
	}
}

func TestAuthCodeURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        Config
		opts       []oauth2.AuthCodeOption
		wantPrefix string
		want       url.Values
		wantFrag   string
	}{{
		name: "standard with PKCE",
		cfg: Config{
			AuthURL: "https://idp.example/authorize", RedirectURL: "https://app.example/oauth2/callback",
			Scopes: []string{"openid", "email"},
		},
		opts:       []oauth2.AuthCodeOption{oauth2.S256ChallengeOption("verifier")},
		wantPrefix: "https://idp.example/authorize?",
		want: url.Values{
			"client_id": {testClientID}, "redirect_uri": {"https://app.example/oauth2/callback"},
			"response_type": {"code"}, "scope": {"openid email"}, "state": {"st"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier("verifier")}, "code_challenge_method": {"S256"},
		},
	}, {
		name: "WeChat: appid, fragment kept at the end",
		cfg: Config{
			AuthURL: "https://open.weixin.qq.com/connect/qrconnect#wechat_redirect", RedirectURL: "https://app.example/cb",
			Scopes: []string{"snsapi_login"}, ClientIDParam: "appid", ClientSecretParam: "secret",
		},
		wantPrefix: "https://open.weixin.qq.com/connect/qrconnect?",
		want: url.Values{
			"appid": {testClientID}, "redirect_uri": {"https://app.example/cb"},
			"response_type": {"code"}, "scope": {"snsapi_login"}, "state": {"st"},
		},
		wantFrag: "wechat_redirect",
	}, {
		name: "AUTH_PARAMS, implicit flow, query in AUTH_URL",
		cfg: Config{
			AuthURL:      "https://idp.example/auth?tenant=t1",
			AuthParams:   url.Values{"access_type": {"offline"}, "prompt": {"consent"}},
			ResponseType: "token",
		},
		wantPrefix: "https://idp.example/auth?",
		want: url.Values{
			"tenant": {"t1"}, "client_id": {testClientID}, "response_type": {"token"}, "state": {"st"},
			"access_type": {"offline"}, "prompt": {"consent"},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.ClientID, cfg.TokenURL, cfg.UserinfoURL = testClientID, "https://idp.example/token", "https://idp.example/userinfo"
			p, err := NewOAuth2(cfg)
			if err != nil {
				t.Fatalf("NewOAuth2: %v", err)
			}
			got := p.AuthCodeURL("st", tc.opts...)
			if !strings.HasPrefix(got, tc.wantPrefix) {
				t.Errorf("AuthCodeURL = %q; want prefix %q", got, tc.wantPrefix)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("AuthCodeURL = %q: %v", got, err)
			}
			if q := u.Query(); !reflect.DeepEqual(q, tc.want) {
				t.Errorf("AuthCodeURL query = %v; want %v", q, tc.want)
			}
			if u.Fragment != tc.wantFrag {
				t.Errorf("AuthCodeURL fragment = %q; want %q", u.Fragment, tc.wantFrag)
			}
		})
	}
}

// wechat is a fake of WeChat's non-standard endpoints: GET token and
// refresh calls with appid/secret in the query, errors as errcode with 200,
// JSON labelled text/plain, userinfo with the token and openid in the query.
func wechat(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/sns/oauth2/access_token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Method != http.MethodGet:
			mismatch(w, "method %s", r.Method)
		case r.Header.Get("Authorization") != "":
			mismatch(w, "unexpected Authorization header")
		case q.Get("appid") != testClientID || q.Get("secret") != testClientSecret || q.Has("client_id") || q.Has("client_secret"):
			mismatch(w, "credentials %v", q)
		case q.Get("grant_type") != "authorization_code":
			mismatch(w, "grant_type %q", q.Get("grant_type"))
		case q.Get("code") != "good":
			answer(w, http.StatusOK, "text/plain", `{"errcode":40029,"errmsg":"invalid code"}`)
		default:
			answer(w, http.StatusOK, "text/plain", `{"access_token":"ACCESS","expires_in":7200,"refresh_token":"REFRESH","openid":"OPENID","scope":"snsapi_login","unionid":"UNIONID"}`)
		}
	})
	mux.HandleFunc("GET /sns/oauth2/refresh_token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("appid") != testClientID || q.Get("grant_type") != "refresh_token":
			mismatch(w, "query %v", q)
		case q.Get("refresh_token") != "REFRESH":
			answer(w, http.StatusOK, "text/plain", `{"errcode":40030,"errmsg":"invalid refresh_token"}`)
		default:
			answer(w, http.StatusOK, "text/plain", `{"access_token":"ACCESS2","expires_in":7200,"refresh_token":"REFRESH","openid":"OPENID","scope":"snsapi_login"}`)
		}
	})
	mux.HandleFunc("GET /sns/userinfo", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("access_token") != "ACCESS" || q.Get("openid") != "OPENID" || q.Get("lang") != "en" || r.Header.Get("Authorization") != "" {
			answerJSON(w, http.StatusOK, `{"errcode":40003,"errmsg":"invalid openid"}`)
			return
		}
		answerJSON(w, http.StatusOK, `{"openid":"OPENID","nickname":"NICK","sex":1,"country":"CN","headimgurl":"https://thirdwx.example/46","privilege":[]}`)
	})
	return serve(t, mux)
}

func wechatConfig(srv *httptest.Server) Config {
	return Config{
		ID:                  "wechat",
		AuthURL:             srv.URL + "/connect/qrconnect#wechat_redirect",
		TokenURL:            srv.URL + "/sns/oauth2/access_token",
		RefreshURL:          srv.URL + "/sns/oauth2/refresh_token",
		UserinfoURL:         srv.URL + "/sns/userinfo",
		TokenMethod:         "GET",
		ClientIDParam:       "appid",
		ClientSecretParam:   "secret",
		TokenUserIDField:    "openid",
		UserinfoUserIDParam: "openid",
		UserinfoToken:       "query",
		UserinfoParams:      url.Values{"lang": {"en"}},
		Claims:              Claims{ID: []string{"unionid", "openid"}, Name: []string{"nickname"}, Picture: []string{"headimgurl"}},
	}
}

func TestWeChat(t *testing.T) {
	t.Parallel()
	srv := wechat(t)
	p := newTestProvider(t, srv, wechatConfig(srv))
	ctx := t.Context()

	tok, err := p.Exchange(ctx, "good")
	if err != nil {
		t.Fatalf("Exchange(good) error: %v", err)
	}
	if tok.AccessToken != "ACCESS" || tok.UserID != "OPENID" || tok.RefreshToken != "REFRESH" {
		t.Errorf("Exchange(good) = %+v; want ACCESS, UserID OPENID, REFRESH", tok)
	}
	id, err := p.Identify(ctx, tok)
	if err != nil {
		t.Fatalf("Identify error: %v", err)
	}
	// No unionid in this answer: the openid is the id.
	if want := (Identity{ID: "OPENID", Name: "NICK", Picture: "https://thirdwx.example/46"}); !reflect.DeepEqual(*id, want) {
		t.Errorf("Identify = %+v; want %+v", *id, want)
	}

	_, err = p.Exchange(ctx, "bad")
	e, ok := errors.AsType[*Error](err)
	if !errors.Is(err, ErrDeadGrant) || !ok || e.Code != "40029" || e.Description != "invalid code" || e.Status != 200 {
		t.Fatalf("Exchange(bad) = %#v; want ErrDeadGrant 40029 invalid code, status 200", err)
	}
	if got, want := err.Error(), `provider "wechat": token endpoint answered with error 40029: invalid code`; got != want {
		t.Errorf("Exchange(bad).Error() = %q; want %q", got, want)
	}
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); !ok || re.ErrorCode != "40029" {
		t.Errorf("Exchange(bad): no *oauth2.RetrieveError with ErrorCode 40029 in %v", err)
	}
	if strings.Contains(err.Error(), testClientSecret) {
		t.Errorf("Exchange(bad).Error() = %q reveals the secret", err)
	}

	nt, err := p.Refresh(ctx, tok)
	if err != nil || nt.AccessToken != "ACCESS2" || nt.RefreshToken != "REFRESH" || nt.UserID != "OPENID" {
		t.Errorf("Refresh = %+v, %v; want ACCESS2, REFRESH, OPENID", nt, err)
	}
	_, err = p.Refresh(ctx, &Tokens{RefreshToken: "old"})
	if !errors.Is(err, ErrDeadGrant) {
		t.Errorf("Refresh(old) = %v; want ErrDeadGrant", err)
	}

	_, err = p.Identify(ctx, &Tokens{AccessToken: "other", UserID: "OPENID"})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "40003: invalid openid") {
		t.Errorf("Identify(other token) = %v; want ErrRejected with 40003: invalid openid", err)
	}
}

// TestIdentifyUsesTokenUserID: a userinfo answer without an id falls back to
// the token response's TOKEN_USER_ID_FIELD.
func TestIdentifyUsesTokenUserID(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, `{"nickname":"n"}`)
	}))
	p := newTestProvider(t, srv, Config{Claims: Claims{Username: []string{"nickname"}}})
	id, err := p.Identify(t.Context(), &Tokens{AccessToken: "AT", UserID: "202593498"})
	if err != nil || id.ID != "202593498" || id.Username != "n" {
		t.Errorf("Identify = %+v, %v; want ID 202593498, Username n", id, err)
	}
}

func TestNumericIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tokenBody string
		userinfo  string
		wantToken string // Tokens.UserID
		wantID    string
	}{
		{"Mercado Libre", `{"access_token":"APP_USR-1","token_type":"Bearer","expires_in":21600,"user_id":202593498,"refresh_token":"TG-1"}`,
			`{"id":202593498,"nickname":"TETE2870021"}`, "202593498", "202593498"},
		{"exponent form", `{"access_token":"AT","user_id":2.02593498e+08}`,
			`{"id":2.02593498e+08}`, "202593498", "202593498"},
		{"GitHub", `{"access_token":"gho_1","token_type":"bearer","scope":"read:user"}`,
			`{"login":"octocat","id":583231}`, "", "583231"},
		{"beyond 2^53", `{"access_token":"AT","user_id":9007199254740993}`,
			`{"id":9007199254740993}`, "9007199254740993", "9007199254740993"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) { answerJSON(w, http.StatusOK, tc.tokenBody) })
			mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
					answerJSON(w, http.StatusUnauthorized, `{"message":"Requires authentication"}`)
					return
				}
				answerJSON(w, http.StatusOK, tc.userinfo)
			})
			srv := serve(t, mux)
			p := newTestProvider(t, srv, Config{TokenUserIDField: "user_id", TokenAuthStyle: AuthStyleParams, Claims: Claims{ID: []string{"id"}}})
			tok, err := p.Exchange(t.Context(), "c")
			if err != nil || tok.UserID != tc.wantToken {
				t.Fatalf("Exchange = %+v, %v; want UserID %q", tok, err, tc.wantToken)
			}
			id, err := p.Identify(t.Context(), tok)
			if err != nil || id.ID != tc.wantID {
				t.Errorf("Identify = %+v, %v; want ID %q", id, err, tc.wantID)
			}
		})
	}
}

// TestParamsReachServer checks TOKEN_PARAMS, USERINFO_PARAMS, the PKCE
// verifier, the redirect URI and the request headers.
func TestParamsReachServer(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.PostFormValue("resource") != "https://api.example" || r.PostFormValue("audience") != "x":
			mismatch(w, "TOKEN_PARAMS missing: %v", r.PostForm)
		case r.PostFormValue("code_verifier") != "verifier":
			mismatch(w, "code_verifier %q", r.PostFormValue("code_verifier"))
		case r.PostFormValue("redirect_uri") != "https://app.example/cb" || r.PostFormValue("code") != "c":
			mismatch(w, "form %v", r.PostForm)
		case r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "Portcullis":
			mismatch(w, "headers %v", r.Header)
		default:
			answerJSON(w, http.StatusOK, `{"access_token":"AT","token_type":"Bearer"}`)
		}
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("fields") != "id,name,email" || q.Get("keep") != "1":
			answerJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error":"test_mismatch","error_description":%q}`, r.URL.RawQuery))
		case r.Header.Get("Authorization") != "Bearer AT" || r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "Portcullis":
			answerJSON(w, http.StatusBadRequest, `{"error":"test_mismatch","error_description":"headers"}`)
		default:
			answerJSON(w, http.StatusOK, `{"id":"10158362538372291","name":"Jane Doe"}`)
		}
	})
	srv := serve(t, mux)
	p := newTestProvider(t, srv, Config{
		RedirectURL:    "https://app.example/cb",
		UserinfoURL:    srv.URL + "/userinfo?keep=1",
		TokenAuthStyle: AuthStyleParams,
		TokenParams:    url.Values{"resource": {"https://api.example"}, "audience": {"x"}},
		UserinfoParams: url.Values{"fields": {"id,name,email"}},
	})
	tok, err := p.Exchange(t.Context(), "c", oauth2.VerifierOption("verifier"))
	if err != nil {
		t.Fatalf("Exchange error: %v", err)
	}
	id, err := p.Identify(t.Context(), tok)
	if err != nil || id.ID != "10158362538372291" || id.Name != "Jane Doe" {
		t.Errorf("Identify = %+v, %v; want id 10158362538372291, Jane Doe", id, err)
	}
}

func TestUserinfoTokenPlacement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		check func(r *http.Request) string // "" when the request is right
	}{{
		name: "POST with the token in the body",
		cfg:  Config{UserinfoMethod: "POST", UserinfoToken: "body", UserinfoTokenParam: "token", UserinfoParams: url.Values{"lang": {"en"}}},
		check: func(r *http.Request) string {
			if r.Method != http.MethodPost || r.Header.Get("Authorization") != "" || r.URL.RawQuery != "" {
				return "method, header or query"
			}
			if r.PostFormValue("token") != "AT" || r.PostFormValue("lang") != "en" {
				return "form " + r.PostForm.Encode()
			}
			return ""
		},
	}, {
		name: "GET with the token in the query under a custom name",
		cfg:  Config{UserinfoToken: "query", UserinfoTokenParam: "oauth_token"},
		check: func(r *http.Request) string {
			if r.Method != http.MethodGet || r.Header.Get("Authorization") != "" || r.URL.Query().Get("oauth_token") != "AT" {
				return "request " + r.Method + " " + r.URL.RawQuery
			}
			return ""
		},
	}, {
		name: "POST with the token in the header",
		cfg:  Config{UserinfoMethod: "post"},
		check: func(r *http.Request) string {
			if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer AT" {
				return "request " + r.Method
			}
			return ""
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if msg := tc.check(r); msg != "" {
					answerJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error":"test_mismatch","error_description":%q}`, msg))
					return
				}
				answerJSON(w, http.StatusOK, `{"sub":"s1"}`)
			}))
			p := newTestProvider(t, srv, tc.cfg)
			id, err := p.Identify(t.Context(), &Tokens{AccessToken: "AT"})
			if err != nil || id.ID != "s1" {
				t.Errorf("Identify = %+v, %v; want ID s1", id, err)
			}
		})
	}
}

// TestIdentifyClaims runs the mapping end to end on a Slack-like answer.
func TestIdentifyClaims(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, `{"ok":true,"sub":"U0R7JM","https://slack.com/team_id":"T0R7GR",
			"email":"krane@example.com","email_verified":true,"name":"krane","gender":"hombre",
			"profile":{"emails":[{"value":"k2@example.com"}]}}`)
	}))
	attrs := []Attribute{
		{Name: "Team", Paths: []string{"https://slack.com/team_id"}},
		{Name: "Gender", Paths: []string{"gender"}},
		{Name: "Alt", Paths: []string{"profile.emails.0.value"}},
	}
	values := map[string]map[string]string{"gender": {"male": "M", "hombre": "M", "female": "F"}}
	p := newTestProvider(t, srv, Config{UserinfoMethod: "POST", Claims: Claims{Attributes: attrs, Values: values}})
	id, err := p.Identify(t.Context(), &Tokens{AccessToken: "AT"})
	if err != nil {
		t.Fatalf("Identify error: %v", err)
	}
	yes := true
	want := Identity{ID: "U0R7JM", Email: "krane@example.com", EmailVerified: &yes, Name: "krane",
		Attributes: map[string]string{"Team": "T0R7GR", "Gender": "M", "Alt": "k2@example.com"}}
	if !reflect.DeepEqual(*id, want) {
		t.Errorf("Identify = %s; want %s", fmtIdentity(id), fmtIdentity(&want))
	}
}

func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		kind        ErrorKind
		code        string
		wantMsg     string // the whole Error() text
	}{
		{"RFC invalid_grant", 400, "application/json", `{"error":"invalid_grant","error_description":"Bad code"}`,
			ErrDeadGrant, "invalid_grant", `provider "corp": token endpoint answered 400 invalid_grant: Bad code`},
		{"503 HTML", 503, "text/html", `<html>down</html>`,
			ErrTransient, "", `provider "corp": token endpoint answered 503`},
		{"429", 429, "application/json", `{"error":"slow_down"}`,
			ErrTransient, "slow_down", `provider "corp": token endpoint answered 429 slow_down`},
		{"RFC temporarily_unavailable", 400, "application/json", `{"error":"temporarily_unavailable"}`,
			ErrTransient, "temporarily_unavailable", `provider "corp": token endpoint answered 400 temporarily_unavailable`},
		{"WeChat errcode with 200", 200, "text/plain", `{"errcode":40163,"errmsg":"code been used"}`,
			ErrDeadGrant, "40163", `provider "corp": token endpoint answered with error 40163: code been used`},
		{"WeChat other errcode", 200, "application/json", `{"errcode":40013,"errmsg":"invalid appid"}`,
			ErrRejected, "40013", `provider "corp": token endpoint answered with error 40013: invalid appid`},
		{"Facebook error object", 400, "application/json", `{"error":{"message":"Invalid verification code format.","type":"OAuthException","code":100,"fbtrace_id":"A1"}}`,
			ErrRejected, "OAuthException", `provider "corp": token endpoint answered 400 OAuthException: Invalid verification code format.`},
		{"Fitbit errors[]", 400, "application/json", `{"errors":[{"errorType":"invalid_grant","message":"Authorization code invalid: abc"}],"success":false}`,
			ErrDeadGrant, "invalid_grant", `provider "corp": token endpoint answered 400 invalid_grant: Authorization code invalid: abc`},
		{"bare message", 401, "application/json", `{"message":"Bad credentials","documentation_url":"https://docs.example"}`,
			ErrRejected, "", `provider "corp": token endpoint answered 401: Bad credentials`},
		{"GitHub error with 200", 200, "application/json", `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/x"}`,
			ErrDeadGrant, "bad_verification_code", `provider "corp": token endpoint answered with error bad_verification_code: The code passed is incorrect or expired.`},
		{"GitHub form-encoded error with 200", 200, "application/x-www-form-urlencoded", `error=bad_verification_code&error_description=expired`,
			ErrDeadGrant, "bad_verification_code", `provider "corp": token endpoint answered with error bad_verification_code: expired`},
		{"Slack ok false", 200, "application/json", `{"ok":false,"error":"invalid_code"}`,
			ErrRejected, "invalid_code", `provider "corp": token endpoint answered with error invalid_code`},
		{"no access_token", 200, "application/json", `{"token_type":"bearer"}`,
			ErrBadResponse, "", `provider "corp": token endpoint: response has no access_token`},
		{"not JSON", 200, "text/html", `<html>hello</html>`,
			ErrBadResponse, "", `provider "corp": token endpoint: response is neither a JSON object nor a form holding an access_token`},
		{"control characters in the description", 400, "application/json", `{"error":"invalid_request","error_description":"bad\r\nX-Injected: 1"}`,
			ErrRejected, "invalid_request", `provider "corp": token endpoint answered 400 invalid_request: badX-Injected: 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				answer(w, tc.status, tc.contentType, tc.body)
			}))
			p := newTestProvider(t, srv, Config{TokenAuthStyle: AuthStyleParams})
			tok, err := p.Exchange(t.Context(), "the-code")
			if !errors.Is(err, tc.kind) {
				t.Fatalf("Exchange = %+v, %v; want kind %v", tok, err, tc.kind)
			}
			e, _ := errors.AsType[*Error](err)
			if e.Code != tc.code || e.Status != tc.status || e.Provider != "corp" || e.Endpoint != "token" {
				t.Errorf("Exchange error = %+v; want code %q, status %d, provider corp, endpoint token", e, tc.code, tc.status)
			}
			if got := err.Error(); got != tc.wantMsg {
				t.Errorf("Exchange error message = %q; want %q", got, tc.wantMsg)
			}
			for _, secret := range []string{testClientSecret, "the-code", srv.URL} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Exchange error message %q contains %q", err, secret)
				}
			}
		})
	}
}

func TestExchangeUnreachable(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.NotFoundHandler())
	p := newTestProvider(t, srv, Config{TokenMethod: "GET", TokenAuthStyle: AuthStyleParams})
	srv.Close()
	_, err := p.Exchange(t.Context(), "the-code")
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("Exchange against a closed server = %v; want ErrTransient", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, `provider "corp": token endpoint unreachable: `) || strings.Contains(msg, testClientSecret) || strings.Contains(msg, "the-code") {
		t.Errorf("Exchange error message = %q; want 'unreachable' without the query", msg)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done) }) // runs before srv.Close
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	p := newTestProvider(t, srv, Config{TokenAuthStyle: AuthStyleParams})
	if _, err := p.Exchange(ctx, "c"); !errors.Is(err, ErrTransient) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exchange past the deadline = %v; want ErrTransient wrapping context.DeadlineExceeded", err)
	}
	if _, err := p.Identify(ctx, &Tokens{AccessToken: "AT"}); !errors.Is(err, ErrTransient) {
		t.Errorf("Identify past the deadline = %v; want ErrTransient", err)
	}
}

func TestResponseSize(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", DefaultMaxResponseBytes+1)
	bigToken := strings.Repeat("t", 64<<10)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /huge/token", func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, `{"access_token":"AT","pad":"`+huge+`"}`)
	})
	mux.HandleFunc("GET /huge/userinfo", func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, `{"sub":"s","pad":"`+huge+`"}`)
	})
	mux.HandleFunc("POST /big/token", func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, `{"access_token":"`+bigToken+`","token_type":"Bearer"}`)
	})
	mux.HandleFunc("GET /big/userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+bigToken {
			answerJSON(w, http.StatusUnauthorized, `{"error":"invalid_token"}`)
			return
		}
		answerJSON(w, http.StatusOK, `{"sub":"big"}`)
	})
	srv := serve(t, mux)
	ctx := t.Context()

	huges := newTestProvider(t, srv, Config{TokenURL: srv.URL + "/huge/token", UserinfoURL: srv.URL + "/huge/userinfo", TokenAuthStyle: AuthStyleParams})
	_, err := huges.Exchange(ctx, "c")
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("Exchange with a %d-byte answer = %v; want ErrBadResponse 'larger than 1048576 bytes'", len(huge), err)
	}
	_, err = huges.Identify(ctx, &Tokens{AccessToken: "AT"})
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("Identify with a %d-byte answer = %v; want ErrBadResponse 'larger than 1048576 bytes'", len(huge), err)
	}

	big := newTestProvider(t, srv, Config{TokenURL: srv.URL + "/big/token", UserinfoURL: srv.URL + "/big/userinfo", TokenAuthStyle: AuthStyleParams})
	tok, err := big.Exchange(ctx, "c")
	if err != nil || tok.AccessToken != bigToken {
		t.Fatalf("Exchange with a 64 KB access token = %v; want it accepted", err)
	}
	if id, err := big.Identify(ctx, tok); err != nil || id.ID != "big" {
		t.Errorf("Identify with a 64 KB access token = %+v, %v; want ID big", id, err)
	}

	small := newTestProvider(t, srv, Config{TokenURL: srv.URL + "/big/token", TokenAuthStyle: AuthStyleParams, MaxResponseBytes: 1024})
	if _, err := small.Exchange(ctx, "c"); !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Errorf("Exchange over MaxResponseBytes 1024 = %v; want ErrBadResponse", err)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		answer string
		status int
		in     Tokens
		want   *Tokens
		kind   ErrorKind
	}{
		{name: "rotating", status: 200,
			answer: `{"access_token":"AT2","token_type":"Bearer","refresh_token":"RT2","expires_in":3600}`,
			in:     Tokens{AccessToken: "AT1", RefreshToken: "RT1", IDToken: "ID1", UserID: "u"},
			want:   &Tokens{AccessToken: "AT2", TokenType: "Bearer", RefreshToken: "RT2", IDToken: "ID1", UserID: "u", Expiry: now.Add(time.Hour)}},
		{name: "not rotating keeps the old refresh token", status: 200,
			answer: `{"access_token":"AT2","token_type":"Bearer","id_token":"ID2"}`,
			in:     Tokens{AccessToken: "AT1", RefreshToken: "RT1", IDToken: "ID1"},
			want:   &Tokens{AccessToken: "AT2", TokenType: "Bearer", RefreshToken: "RT1", IDToken: "ID2"}},
		{name: "invalid_grant", status: 400,
			answer: `{"error":"invalid_grant","error_description":"Token is not active"}`,
			in:     Tokens{RefreshToken: "RT1"}, kind: ErrDeadGrant},
		{name: "GitHub bad_refresh_token with 200", status: 200,
			answer: `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired."}`,
			in:     Tokens{RefreshToken: "RT1"}, kind: ErrDeadGrant},
		{name: "5xx", status: 502, answer: `bad gateway`, in: Tokens{RefreshToken: "RT1"}, kind: ErrTransient},
		{name: "no refresh token", in: Tokens{AccessToken: "AT1"}, kind: ErrDeadGrant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
				mismatch(w, "refresh sent to TOKEN_URL")
			})
			mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, r *http.Request) {
				if r.PostFormValue("grant_type") != "refresh_token" || r.PostFormValue("refresh_token") != "RT1" || r.PostFormValue("extra") != "1" {
					mismatch(w, "form %v", r.PostForm)
					return
				}
				answer(w, tc.status, "application/json", tc.answer)
			})
			srv := serve(t, mux)
			p := newTestProvider(t, srv, Config{RefreshURL: srv.URL + "/refresh", TokenAuthStyle: AuthStyleParams, TokenParams: url.Values{"extra": {"1"}}})
			p.now = func() time.Time { return now }
			got, err := p.Refresh(t.Context(), &tc.in)
			if tc.want == nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("Refresh = %+v, %v; want kind %v", got, err, tc.kind)
				}
				if e, _ := errors.AsType[*Error](err); e.Endpoint != "refresh" {
					t.Errorf("Refresh error endpoint = %q; want refresh", e.Endpoint)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Refresh = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestExchangeExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		body string
		want time.Time
	}{
		{`{"access_token":"AT","expires_in":7200}`, now.Add(2 * time.Hour)},
		{`{"access_token":"AT","expires_in":"3600"}`, now.Add(time.Hour)}, // PayPal sends a string
		{`{"access_token":"AT"}`, time.Time{}},
	}
	for _, tc := range tests {
		srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			answerJSON(w, http.StatusOK, tc.body)
		}))
		p := newTestProvider(t, srv, Config{TokenAuthStyle: AuthStyleParams})
		p.now = func() time.Time { return now }
		tok, err := p.Exchange(t.Context(), "c")
		if err != nil || !tok.Expiry.Equal(tc.want) {
			t.Errorf("Exchange(%s).Expiry = %v, %v; want %v", tc.body, tok, err, tc.want)
		}
	}
}

func TestIdentifyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		header  string // WWW-Authenticate
		body    string
		kind    ErrorKind
		wantMsg string
	}{
		{"401 invalid_token challenge", 401, `Bearer realm="x", error="invalid_token", error_description="expired"`, ``,
			ErrDeadGrant, `provider "corp": userinfo endpoint answered 401 invalid_token`},
		{"401 JSON message", 401, "", `{"message":"Bad credentials"}`,
			ErrRejected, `provider "corp": userinfo endpoint answered 401: Bad credentials`},
		{"500", 500, "", `oops`, ErrTransient, `provider "corp": userinfo endpoint answered 500`},
		{"error with 200", 200, "", `{"ok":false,"error":"invalid_auth"}`,
			ErrRejected, `provider "corp": userinfo endpoint answered with error invalid_auth`},
		{"WeChat errcode with 200", 200, "", `{"errcode":42001,"errmsg":"access_token expired"}`,
			ErrRejected, `provider "corp": userinfo endpoint answered with error 42001: access_token expired`},
		{"Facebook error object with 200", 200, "", `{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}`,
			ErrRejected, `provider "corp": userinfo endpoint answered with error OAuthException: Error validating access token`},
		{"message with 200 and no id", 200, "", `{"message":"Not Found"}`,
			ErrRejected, `provider "corp": userinfo endpoint answered with an error: Not Found`},
		{"no id", 200, "", `{"name":"n"}`,
			ErrBadResponse, `provider "corp": userinfo endpoint: no user id found at CLAIM_ID "sub,id"`},
		{"not JSON", 200, "", `<html></html>`,
			ErrBadResponse, `provider "corp": userinfo endpoint: response is not a JSON object: invalid character '<' looking for beginning of value`},
		{"JSON array", 200, "", `[{"sub":"s"}]`,
			ErrBadResponse, `provider "corp": userinfo endpoint: response is not a JSON object: a JSON array, not an object`},
		{"trailing data", 200, "", `{"sub":"s"} {"sub":"t"}`,
			ErrBadResponse, `provider "corp": userinfo endpoint: response is not a JSON object: data after the JSON value`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("WWW-Authenticate", tc.header)
				}
				answerJSON(w, tc.status, tc.body)
			}))
			p := newTestProvider(t, srv, Config{})
			id, err := p.Identify(t.Context(), &Tokens{AccessToken: "secret-access-token"})
			if !errors.Is(err, tc.kind) {
				t.Fatalf("Identify = %+v, %v; want kind %v", id, err, tc.kind)
			}
			if got := err.Error(); got != tc.wantMsg {
				t.Errorf("Identify error message = %q; want %q", got, tc.wantMsg)
			}
		})
	}
}

func TestIdentifyWithoutAccessToken(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t, serve(t, http.NotFoundHandler()), Config{})
	for _, tok := range []*Tokens{nil, {}} {
		if _, err := p.Identify(t.Context(), tok); !errors.Is(err, ErrDeadGrant) {
			t.Errorf("Identify(%+v) = %v; want ErrDeadGrant", tok, err)
		}
	}
}

func TestNewOAuth2Validation(t *testing.T) {
	t.Parallel()
	_, err := NewOAuth2(Config{
		AuthURL:        "idp.example/authorize",
		TokenMethod:    "PUT",
		UserinfoToken:  "body",
		ResponseType:   "id_token",
		TokenAuthStyle: AuthStyle(9),
		Claims:         Claims{Values: map[string]map[string]string{"gender": {"male": "M"}}},
	})
	if err == nil {
		t.Fatal("NewOAuth2 with a bad config: no error")
	}
	for _, want := range []string{
		"CLIENT_ID: required",
		"AUTH_URL: must be an absolute http or https URL",
		"USERINFO_URL: required",
		`RESPONSE_TYPE: must be code or token, got "id_token"`,
		`TOKEN_METHOD: must be GET or POST, got "PUT"`,
		"TOKEN_AUTH_STYLE: must be auto, header, params, private_key_jwt, client_assertion or none",
		"USERINFO_TOKEN: body needs USERINFO_METHOD=POST",
		`CLAIM_VALUES: "gender" is neither a mapped field`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewOAuth2 error = %q; want it to contain %q", err, want)
		}
	}

	_, err = NewOAuth2(Config{
		ClientID: "c", AuthURL: "https://idp.example/a", TokenURL: "https://idp.example/t", UserinfoURL: "https://idp.example/u",
		Claims: Claims{
			Attributes: []Attribute{{Name: "Gender", Paths: []string{"gender"}}},
			Values:     map[string]map[string]string{"gender": {"male": "M"}, "groups": {"a": "b"}},
		},
	})
	if err != nil {
		t.Errorf("NewOAuth2 with a good config = %v; want no error", err)
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Provider: "corp", Endpoint: "token", Kind: ErrDeadGrant, Status: 400, Code: "invalid_grant", Description: "Bad code"},
			`provider "corp": token endpoint answered 400 invalid_grant: Bad code`},
		{&Error{Provider: "corp", Endpoint: "refresh", Kind: ErrTransient, Err: errors.New("connection refused")},
			`provider "corp": refresh endpoint unreachable: connection refused`},
		{&Error{Provider: "corp", Endpoint: "refresh", Kind: ErrDeadGrant, Description: "no refresh token"},
			`provider "corp": refresh endpoint: no refresh token`},
		{&Error{Kind: ErrBadResponse, Description: `no user id found at CLAIM_ID "sub"`},
			`provider answer: no user id found at CLAIM_ID "sub"`},
		{&Error{Kind: ErrRejected}, `provider answer: provider refused the request`},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("(%+v).Error() = %q; want %q", *tc.err, got, tc.want)
		}
	}
	var err error = fmt.Errorf("callback: %w", &Error{Kind: ErrDeadGrant})
	if !errors.Is(err, ErrDeadGrant) || errors.Is(err, ErrTransient) {
		t.Errorf("errors.Is on a wrapped ErrDeadGrant error: got the wrong kinds")
	}
}

// TestFormEncodedToken: a token answer sent as a form (GitHub without
// Accept: application/json) still yields the user id field.
func TestFormEncodedToken(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, "application/x-www-form-urlencoded", "access_token=gho_1&token_type=bearer&user_id=583231")
	}))
	p := newTestProvider(t, srv, Config{TokenAuthStyle: AuthStyleParams, TokenUserIDField: "user_id"})
	tok, err := p.Exchange(t.Context(), "c")
	if err != nil || tok.AccessToken != "gho_1" || tok.UserID != "583231" {
		t.Errorf("Exchange = %+v, %v; want gho_1 with UserID 583231", tok, err)
	}
}

func TestLongDescriptionTruncated(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusBadRequest, `{"error":"invalid_request","error_description":"`+long+`"}`)
	}))
	p := newTestProvider(t, srv, Config{TokenAuthStyle: AuthStyleParams})
	_, err := p.Exchange(t.Context(), "c")
	e, ok := errors.AsType[*Error](err)
	if !ok || len(e.Description) > maxDescription+len("…") || !strings.HasSuffix(e.Description, "…") || !utf8.ValidString(e.Description) {
		t.Errorf("Exchange error description = %q (%d bytes); want at most %d bytes of valid UTF-8 ending in …", e.Description, len(e.Description), maxDescription)
	}
}
