package providers

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// presetRedirect is the redirect URI the flow tests register.
const presetRedirect = "https://app.example.com/oauth2/callback"

// presetFixture returns testdata/<dir>/<file>.
func presetFixture(t testing.TB, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// presetFixtureDoc decodes a fixture the way the providers do (UseNumber).
func presetFixtureDoc(t testing.TB, dir, file string) map[string]any {
	t.Helper()
	doc, err := decodeJSONObject([]byte(presetFixture(t, dir, file)))
	if err != nil {
		t.Fatalf("%s/%s: %v", dir, file, err)
	}
	return doc
}

// presetOnFake is the named preset's settings with every URL the preset
// calls set explicitly to the same path on srv: what an operator does to
// point a preset at a test double.
func presetOnFake(t *testing.T, name string, srv *httptest.Server) Settings {
	t.Helper()
	p, ok := LookupPreset(name)
	if !ok {
		t.Fatalf("LookupPreset(%q) not found", name)
	}
	p = p.Expand("", "")
	s := Settings{ID: name, Preset: name, ClientID: testClientID, ClientSecret: testClientSecret, RedirectURL: presetRedirect}
	move := func(setting, raw string, dst *string) {
		if raw == "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s %s: %v", name, setting, err)
		}
		*dst = srv.URL + u.EscapedPath()
		if u.Fragment != "" {
			*dst += "#" + u.Fragment
		}
	}
	move("AUTH_URL", p.AuthURL, &s.AuthURL)
	move("TOKEN_URL", p.TokenURL, &s.TokenURL)
	move("USERINFO_URL", p.UserinfoURL, &s.UserinfoURL)
	move("REFRESH_URL", p.RefreshURL, &s.RefreshURL)
	move("REVOKE_URL", p.RevokeURL, &s.RevokeURL)
	return s
}

// buildOnFake builds the provider main builds for the named preset on srv
// (presetOnFake).
func buildOnFake(t *testing.T, name string, srv *httptest.Server) *Built {
	t.Helper()
	b, err := Build(presetOnFake(t, name, srv), BuildOptions{Transport: srv.Client().Transport})
	if err != nil {
		t.Fatalf("Build(%s): %v", name, err)
	}
	return b
}

// presetIdP is the authorization endpoint of a fake provider, and the
// bookkeeping that binds each code it issues to its PKCE challenge.
type presetIdP struct {
	t       *testing.T
	idParam string // name of the client id parameter
	scope   string // the scope parameter expected
	pkce    bool

	mu    sync.Mutex
	n     int
	codes map[string]string // code → code_challenge
}

func newPresetIdP(t *testing.T, p Preset) *presetIdP {
	id := p.ClientIDParam
	if id == "" {
		id = "client_id"
	}
	return &presetIdP{t: t, idParam: id, scope: strings.Join(p.Scopes, " "), pkce: p.PKCE, codes: map[string]string{}}
}

// authorize checks the authorization request the way the provider's page
// would, and sends the browser back with a code.
func (f *presetIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var problems []string
	want := func(name, v string) {
		if got := q.Get(name); got != v {
			problems = append(problems, fmt.Sprintf("%s=%q, want %q", name, got, v))
		}
	}
	want(f.idParam, testClientID)
	if f.idParam != "client_id" && q.Has("client_id") {
		problems = append(problems, "client_id sent besides "+f.idParam)
	}
	want("redirect_uri", presetRedirect)
	want("response_type", "code")
	want("scope", f.scope)
	state := q.Get("state")
	if state == "" {
		problems = append(problems, "no state")
	}
	challenge := q.Get("code_challenge")
	switch {
	case f.pkce && (challenge == "" || q.Get("code_challenge_method") != "S256"):
		problems = append(problems, "no S256 code_challenge")
	case !f.pkce && (q.Has("code_challenge") || q.Has("code_challenge_method")):
		problems = append(problems, "code_challenge sent to a provider without PKCE")
	}
	if len(problems) > 0 {
		f.t.Errorf("authorization request: %s", strings.Join(problems, "; "))
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.n++
	code := fmt.Sprintf("code-%d", f.n)
	f.codes[code] = challenge
	f.mu.Unlock()
	http.Redirect(w, r, presetRedirect+"?"+url.Values{"code": {code}, "state": {state}}.Encode(), http.StatusFound)
}

// redeem consumes a code; it returns "" when the code and the PKCE verifier
// are good, else what is wrong.
func (f *presetIdP) redeem(code, verifier string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	challenge, ok := f.codes[code]
	if !ok {
		return "unknown or used code"
	}
	delete(f.codes, code)
	switch {
	case f.pkce && (verifier == "" || oauth2.S256ChallengeFromVerifier(verifier) != challenge):
		return "code_verifier does not match the code_challenge"
	case !f.pkce && verifier != "":
		return "code_verifier sent to a provider without PKCE"
	}
	return ""
}

// presetFormProblems compares request parameters with the wanted ones; absent
// names must not be there.
func presetFormProblems(got url.Values, want map[string]string, absent ...string) []string {
	var out []string
	for k, v := range want {
		if g := got.Get(k); g != v {
			out = append(out, fmt.Sprintf("%s=%q, want %q", k, g, v))
		}
	}
	for _, k := range absent {
		if got.Has(k) {
			out = append(out, k+" must not be sent")
		}
	}
	slices.Sort(out)
	return out
}

// runPresetFlow drives a sign-in: the authorization URL, the browser's
// visit to the fake's authorization page and its redirect back, the code
// exchange and Identify.
func runPresetFlow(t *testing.T, b *Built, srv *httptest.Server) (authURL string, tok *Tokens, id *Identity) {
	t.Helper()
	prov := b.Provider
	const state = "state-7f3a"
	var authOpts, exchangeOpts []oauth2.AuthCodeOption
	if b.PKCE {
		v := oauth2.GenerateVerifier()
		authOpts = append(authOpts, oauth2.S256ChallengeOption(v))
		exchangeOpts = append(exchangeOpts, oauth2.VerifierOption(v))
	}
	authURL = prov.AuthCodeURL(state, authOpts...)

	back := followAuthorize(t, srv, authURL)
	if back.Query().Get("state") != state {
		t.Fatalf("redirect back = %q; want state %q", back, state)
	}

	ctx := t.Context()
	tok, err := prov.Exchange(ctx, back.Query().Get("code"), exchangeOpts...)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	id, err = prov.Identify(ctx, tok)
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	return authURL, tok, id
}

func presetBool(b bool) *bool { return &b }

func fmtPresetIdentity(id *Identity) string {
	if id == nil {
		return "<nil>"
	}
	v := "<nil>"
	if id.EmailVerified != nil {
		v = fmt.Sprint(*id.EmailVerified)
	}
	return fmt.Sprintf("%+v (EmailVerified %s)", *id, v)
}

func checkPresetIdentity(t *testing.T, got *Identity, want Identity) {
	t.Helper()
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Identify =\n  %s\nwant\n  %s", fmtPresetIdentity(got), fmtPresetIdentity(&want))
	}
}

// --- GitHub -----------------------------------------------------------------

// gitHubFake answers like github.com and api.github.com: the OAuth App
// token endpoint (client credentials in the form, JSON only when asked,
// errors with status 200) and the REST API (Bearer token, API headers,
// paginated lists).
func gitHubFake(t *testing.T, p Preset) *httptest.Server {
	idp := newPresetIdP(t, p)
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /login/oauth/authorize", idp.authorize)
	mux.HandleFunc("/login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			mismatch(w, "method %s", r.Method)
			return
		}
		if err := r.ParseForm(); err != nil {
			mismatch(w, "form: %v", err)
			return
		}
		problems := presetFormProblems(r.PostForm, map[string]string{
			"client_id": testClientID, "client_secret": testClientSecret, "redirect_uri": presetRedirect,
		})
		if r.Header.Get("Authorization") != "" {
			problems = append(problems, "Authorization header sent (GitHub documents form parameters)")
		}
		if r.Header.Get("Accept") != "application/json" {
			problems = append(problems, fmt.Sprintf("Accept %q: GitHub answers form-encoded without application/json", r.Header.Get("Accept")))
		}
		if len(problems) > 0 {
			t.Errorf("token request: %s", strings.Join(problems, "; "))
			mismatch(w, "%v", problems)
			return
		}
		if msg := idp.redeem(r.PostForm.Get("code"), r.PostForm.Get("code_verifier")); msg != "" {
			answerJSON(w, http.StatusOK, presetFixture(t, "github", "token_error.json"))
			return
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "github", "token.json"))
	})
	api := func(file string, pages ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var problems []string
			if got := r.Header.Get("Authorization"); got != "Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a" {
				problems = append(problems, fmt.Sprintf("Authorization %q", got))
			}
			if got := r.Header.Get("Accept"); got != "application/vnd.github+json" {
				problems = append(problems, fmt.Sprintf("Accept %q", got))
			}
			if got := r.Header.Get("X-GitHub-Api-Version"); got != "2022-11-28" {
				problems = append(problems, fmt.Sprintf("X-GitHub-Api-Version %q", got))
			}
			if r.Header.Get("User-Agent") == "" {
				problems = append(problems, "no User-Agent")
			}
			if r.URL.Path != "/user" && r.URL.Query().Get("per_page") != "100" {
				problems = append(problems, "per_page is not 100")
			}
			if len(problems) > 0 {
				t.Errorf("GET %s: %s", r.URL.Path, strings.Join(problems, "; "))
				answerJSON(w, http.StatusUnauthorized, `{"message":"Bad credentials"}`)
				return
			}
			body := presetFixture(t, "github", file)
			if len(pages) > 0 {
				if r.URL.Query().Get("page") == "2" {
					body = presetFixture(t, "github", pages[0])
					w.Header().Set("Link", fmt.Sprintf(`<%s%s?per_page=100&page=1>; rel="prev", <%s%s?per_page=100&page=1>; rel="first"`, srv.URL, r.URL.Path, srv.URL, r.URL.Path))
				} else {
					w.Header().Set("Link", fmt.Sprintf(`<%s%s?per_page=100&page=2>; rel="next", <%s%s?per_page=100&page=2>; rel="last"`, srv.URL, r.URL.Path, srv.URL, r.URL.Path))
				}
			}
			answerJSON(w, http.StatusOK, body)
		}
	}
	mux.HandleFunc("GET /user", api("user.json"))
	mux.HandleFunc("GET /user/emails", api("emails.json"))
	mux.HandleFunc("GET /user/orgs", api("orgs.json", "orgs_page2.json"))
	mux.HandleFunc("GET /user/teams", api("teams.json"))
	srv = serve(t, mux)
	return srv
}

// presetFlowRun is what one OAuth2 preset's sign-in against its fake
// left: the fake, the provider Build made, the authorization URL and the
// tokens.
type presetFlowRun struct {
	srv     *httptest.Server
	prov    Provider
	authURL string
	tok     *Tokens
}

// TestPresetFlows signs in with each OAuth2 preset (the OIDC ones:
// TestPresetOIDCEndToEnd) against a fake that answers as that provider
// does, built as main builds it (buildOnFake, runPresetFlow), and checks
// the identity, then what else the preset must get right there: the
// authorization URL, the tokens, refresh and the provider's own errors.
func TestPresetFlows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		preset string
		// fake serves the provider's endpoints at the preset's paths.
		fake func(t *testing.T, p Preset) *httptest.Server
		want Identity
		// check looks at the rest of the run.
		check func(t *testing.T, p Preset, r presetFlowRun)
	}{
		{
			preset: "github", fake: gitHubFake,
			want: Identity{
				ID:            "583231",
				Email:         "octocat@github.com",
				EmailVerified: presetBool(true),
				Name:          "The Octocat",
				Username:      "octocat",
				Picture:       "https://avatars.githubusercontent.com/u/583231",
				Groups:        []string{"github", "octo-org", "github:justice-league"},
			},
			check: func(t *testing.T, _ Preset, r presetFlowRun) {
				if !strings.HasPrefix(r.authURL, r.srv.URL+"/login/oauth/authorize?") {
					t.Errorf("AuthCodeURL = %q; want it on the fake's /login/oauth/authorize", r.authURL)
				}
				if r.tok.AccessToken != "gho_16C7e42F292c6912E7710c838347Ae178B4a" || !r.tok.Expiry.IsZero() || r.tok.RefreshToken != "" {
					t.Errorf("Exchange = %+v; want the OAuth App token, no expiry, no refresh token", r.tok)
				}
				// A code GitHub does not know: status 200 with bad_verification_code.
				_, err := r.prov.Exchange(t.Context(), "stale")
				if !errors.Is(err, ErrDeadGrant) {
					t.Errorf("Exchange(stale) = %v; want ErrDeadGrant (bad_verification_code)", err)
				}
			},
		},
		{
			preset: "facebook", fake: facebookFake,
			want: Identity{
				ID:         "10158362538372291",
				Email:      "jane@example.com",
				Name:       "Jane Doe",
				GivenName:  "Jane",
				FamilyName: "Doe",
				Picture:    "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10158362538372291&height=50&width=50",
			},
			check: func(t *testing.T, _ Preset, r presetFlowRun) {
				if r.tok.AccessToken != facebookToken || r.tok.RefreshToken != "" || r.tok.Expiry.IsZero() {
					t.Errorf("Exchange = %+v; want the token with an expiry and no refresh token", r.tok)
				}
				// An expired token: Graph's error object reaches the message.
				_, err := r.prov.Identify(t.Context(), &Tokens{AccessToken: "EAAexpired0123"})
				if err == nil || !strings.Contains(err.Error(), "Session has expired") || strings.Contains(err.Error(), "EAAexpired0123") {
					t.Errorf("Identify(expired token) = %v; want Graph's message and no token", err)
				}
			},
		},
		{
			preset: "mercadolibre", fake: mercadoLibreFake,
			want: Identity{
				ID:         "202593498",
				Email:      "test_user_50698062@testuser.com",
				Name:       "Test Test", // first_name + last_name; nickname is the username
				GivenName:  "Test",
				FamilyName: "Test",
				Username:   "TETE2870021",
				Attributes: map[string]string{"Country": "AR"},
			},
			check: func(t *testing.T, _ Preset, r presetFlowRun) {
				if !strings.HasPrefix(r.authURL, r.srv.URL+"/authorization?") {
					t.Errorf("AuthCodeURL = %q", r.authURL)
				}
				if r.tok.UserID != "202593498" || r.tok.RefreshToken != mercadoLibreRefresh {
					t.Errorf("Exchange = %+v; want UserID 202593498 exactly and the refresh token", r.tok)
				}
				rf, ok := r.prov.(Refresher)
				if !ok {
					t.Fatal("the mercadolibre provider is not a Refresher")
				}
				nt, err := rf.Refresh(t.Context(), r.tok)
				if err != nil || nt.AccessToken != "APP_USR-2" || nt.RefreshToken != "TG-rotated-1234567" || nt.UserID != "202593498" {
					t.Fatalf("Refresh = %+v, %v; want the rotated pair", nt, err)
				}
				// The old refresh token was single use.
				if _, err := rf.Refresh(t.Context(), r.tok); !errors.Is(err, ErrDeadGrant) {
					t.Errorf("Refresh(used refresh token) = %v; want ErrDeadGrant", err)
				}
			},
		},
		{
			preset: "wechat", fake: weChatFake,
			// unionid wins over openid; no e-mail is made up.
			want: Identity{
				ID:      "o6_bmasdasdsad6_2sgVt7hMZOPfL",
				Name:    "NICKNAME",
				Picture: "https://thirdwx.qlogo.cn/mmopen/g3MonUZtNHkdmzicIlibx6iaFqAc56vxLSUfpb6n5WKSYVY0ChQKkiaJSgQ1dZuTOgvLLrhJbERQQ4eMsv84eavHiaiceqxibJxCfHe/46",
			},
			check: func(t *testing.T, _ Preset, r presetFlowRun) {
				// WeChat cites parameter order as a cause of errors: appid,
				// redirect_uri, response_type, scope, state; #wechat_redirect last.
				wantPrefix := r.srv.URL + "/connect/qrconnect?appid=" + testClientID + "&redirect_uri=" + url.QueryEscape(presetRedirect) + "&response_type=code&scope=snsapi_login&state="
				if !strings.HasPrefix(r.authURL, wantPrefix) || !strings.HasSuffix(r.authURL, "#wechat_redirect") {
					t.Errorf("AuthCodeURL = %q; want %q…#wechat_redirect", r.authURL, wantPrefix)
				}
				if r.tok.UserID != "OPENID" || r.tok.RefreshToken != "REFRESH_TOKEN" {
					t.Errorf("Exchange = %+v; want UserID OPENID and the refresh token", r.tok)
				}
				// A used code: errcode 40029 with status 200.
				_, err := r.prov.Exchange(t.Context(), "code-1")
				if e, ok := errors.AsType[*Error](err); !ok || !errors.Is(err, ErrDeadGrant) || e.Code != "40029" {
					t.Errorf("Exchange(used code) = %v; want ErrDeadGrant 40029", err)
				}
				if err != nil && strings.Contains(err.Error(), testClientSecret) {
					t.Errorf("Exchange(used code) error %q reveals the secret", err)
				}

				rf := r.prov.(Refresher)
				nt, err := rf.Refresh(t.Context(), r.tok)
				if err != nil || nt.AccessToken != "ACCESS_TOKEN_2" || nt.UserID != "OPENID" {
					t.Errorf("Refresh = %+v, %v; want ACCESS_TOKEN_2 for OPENID", nt, err)
				}
				if _, err := rf.Refresh(t.Context(), &Tokens{RefreshToken: "expired"}); !errors.Is(err, ErrDeadGrant) {
					t.Errorf("Refresh(expired) = %v; want ErrDeadGrant (40030)", err)
				}
			},
		},
		{
			preset: "fitbit", fake: fitbitFake,
			want: Identity{
				ID:         "GGNJL9",
				Name:       "Jane Doe",
				GivenName:  "Jane",
				FamilyName: "Doe",
				Username:   "Jane D.",
				Picture:    "https://static0.fitbit.com/images/profile/defaultProfile_100.png",
				Locale:     "en_US",
			},
			check: func(t *testing.T, p Preset, r presetFlowRun) {
				if !strings.Contains(p.Deprecated, "November 2026") || !strings.Contains(p.Deprecated, "google") {
					t.Errorf("fitbit Deprecated = %q; want the shutdown date and the successor", p.Deprecated)
				}
				if r.tok.UserID != "GGNJL9" || r.tok.Expiry.IsZero() {
					t.Errorf("Exchange = %+v; want UserID GGNJL9 and an expiry", r.tok)
				}
				// Fitbit's errors[] body: a dead refresh token is ErrDeadGrant.
				if _, err := r.prov.(Refresher).Refresh(t.Context(), r.tok); !errors.Is(err, ErrDeadGrant) {
					t.Errorf("Refresh(dead) = %v; want ErrDeadGrant", err)
				}
			},
		},
		{
			preset: "bitbucket", fake: func(t *testing.T, _ Preset) *httptest.Server { return bitbucketFake(t, nil) },
			// The primary address, on the list's second page.
			want: Identity{
				ID:            "{5b8e3f1a-2c4d-4e6f-8a0b-1c2d3e4f5a6b}",
				Email:         "jane@example.com",
				EmailVerified: presetBool(true),
				Name:          "Jane Doe",
				Username:      "jdoe",
				Picture:       "https://secure.gravatar.com/avatar/5f4dcc3b5aa765d61d8327deb882cf99?d=https%3A%2F%2Favatar-management--avatars.us-west-2.prod.public.atl-paas.net%2Finitials%2FJD-3.png",
				Attributes:    map[string]string{"Account-Id": "557058:9c1b2a3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"},
			},
			check: func(t *testing.T, _ Preset, r presetFlowRun) {
				if u, _ := url.Parse(r.authURL); u.Query().Has("scope") {
					t.Errorf("AuthCodeURL = %q; want no scope: the consumer's permissions are the scopes", r.authURL)
				}
				if r.tok.RefreshToken == "" || r.tok.Expiry.IsZero() {
					t.Errorf("Exchange = %+v; want a refresh token and an expiry", r.tok)
				}
				ref := r.prov.(Refresher)
				nt, err := ref.Refresh(t.Context(), r.tok)
				if err != nil || nt.AccessToken != "bb-access-2" || nt.RefreshToken == r.tok.RefreshToken {
					t.Fatalf("Refresh = %+v, %v; want the rotated pair", nt, err)
				}
				if _, err := ref.Refresh(t.Context(), r.tok); !errors.Is(err, ErrDeadGrant) {
					t.Errorf("Refresh(used refresh token) = %v; want ErrDeadGrant: Bitbucket's are single use", err)
				}
				if _, err := r.prov.Identify(t.Context(), &Tokens{AccessToken: "expired-0123456789"}); err == nil || !strings.Contains(err.Error(), "Access token expired") || strings.Contains(err.Error(), "expired-0123456789") {
					t.Errorf("Identify(expired token) = %v; want Bitbucket's message and no token", err)
				}
			},
		},
		{
			preset: "discord", fake: discordFake,
			// The snowflake id as the string Discord sends; global_name is the name.
			want: Identity{
				ID: "80351110224678912", Email: "nelly@example.com", EmailVerified: presetBool(true),
				Name: "Nelly", Username: "nelly", Locale: "en-US",
			},
			check: func(t *testing.T, p Preset, r presetFlowRun) {
				if !strings.HasPrefix(r.authURL, r.srv.URL+"/oauth2/authorize?") || !strings.Contains(r.authURL, "code_challenge_method=S256") {
					t.Errorf("AuthCodeURL = %q; want the fake's /oauth2/authorize with S256 PKCE", r.authURL)
				}
				if r.tok.RefreshToken == "" || r.tok.Expiry.IsZero() {
					t.Errorf("Exchange = %+v; want a refresh token and an expiry", r.tok)
				}
				// Without a global name, the username is the name; an
				// unverified address says so.
				c := p.Claims.WithDefaults()
				other, err := c.Map(decode(t, `{"id":"1","username":"bob","global_name":null,"email":"bob@example.com","verified":false}`))
				if err != nil || other.Name != "bob" || other.EmailVerified == nil || *other.EmailVerified {
					t.Errorf("Claims.Map(no global_name, unverified) = %s, %v; want name bob, EmailVerified false", fmtPresetIdentity(other), err)
				}
				ref := r.prov.(Refresher)
				nt, err := ref.Refresh(t.Context(), r.tok)
				if err != nil || nt.AccessToken != "dc-access-2" || nt.RefreshToken == r.tok.RefreshToken {
					t.Fatalf("Refresh = %+v, %v; want the rotated pair", nt, err)
				}
				if _, err := ref.Refresh(t.Context(), r.tok); !errors.Is(err, ErrDeadGrant) {
					t.Errorf("Refresh(used refresh token) = %v; want ErrDeadGrant", err)
				}
				if err := r.prov.(Revoker).Revoke(t.Context(), nt.RefreshToken, "refresh_token"); err != nil {
					t.Errorf("Revoke = %v", err)
				}
				v, _ := discordStates.Load(r.srv.URL)
				st := v.(*discordState)
				if st.mu.Lock(); st.revoked != nt.RefreshToken {
					t.Errorf("revoked %q; want the refresh token", st.revoked)
				}
				st.mu.Unlock()
			},
		},
	}
	// Every OAuth2 preset but the generic one has a case.
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.preset] = true
	}
	for _, name := range PresetNames() {
		if p, _ := LookupPreset(name); p.Kind != KindOIDC && name != "oauth2" && !covered[name] {
			t.Errorf("OAuth2 preset %s has no flow case", name)
		}
	}
	for _, tc := range tests {
		t.Run(tc.preset, func(t *testing.T) {
			t.Parallel()
			p, ok := LookupPreset(tc.preset)
			if !ok {
				t.Fatalf("LookupPreset(%q) not found", tc.preset)
			}
			srv := tc.fake(t, p)
			b := buildOnFake(t, tc.preset, srv)
			authURL, tok, id := runPresetFlow(t, b, srv)
			checkPresetIdentity(t, id, tc.want)
			tc.check(t, p, presetFlowRun{srv: srv, prov: b.Provider, authURL: authURL, tok: tok})
		})
	}
}

// --- Facebook ---------------------------------------------------------------

// facebookToken is the access token facebookFake issues.
const facebookToken = "EAAGm0PX4ZCpsBAO8ZCkZBZB6yEJb3ZCZAZBZCZCa3ZBZCZCvZAJhNy"

// facebookFake answers like Facebook: the Graph API's token endpoint and
// /me, which wants the token in the header and its appsecret_proof.
func facebookFake(t *testing.T, p Preset) *httptest.Server {
	idp := newPresetIdP(t, p)
	mac := hmac.New(sha256.New, []byte(testClientSecret))
	mac.Write([]byte(facebookToken))
	proof := hex.EncodeToString(mac.Sum(nil))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v25.0/dialog/oauth", idp.authorize)
	mux.HandleFunc("/v25.0/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			mismatch(w, "method %s, form %v", r.Method, err)
			return
		}
		problems := presetFormProblems(r.PostForm, map[string]string{
			"client_id": testClientID, "client_secret": testClientSecret,
			"redirect_uri": presetRedirect, "grant_type": "authorization_code",
		})
		if r.Header.Get("Authorization") != "" {
			problems = append(problems, "Authorization header sent")
		}
		if len(problems) > 0 {
			t.Errorf("token request: %s", strings.Join(problems, "; "))
			mismatch(w, "%v", problems)
			return
		}
		if msg := idp.redeem(r.PostForm.Get("code"), r.PostForm.Get("code_verifier")); msg != "" {
			answerJSON(w, http.StatusBadRequest, `{"error":{"message":"Invalid verification code format.","type":"OAuthException","code":100,"fbtrace_id":"A1"}}`)
			return
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "facebook", "token.json"))
	})
	mux.HandleFunc("GET /v25.0/me", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("Authorization") != "Bearer "+facebookToken {
			answerJSON(w, http.StatusBadRequest, presetFixture(t, "facebook", "error.json"))
			return
		}
		problems := presetFormProblems(q, map[string]string{
			"fields":          "id,name,email,first_name,last_name,picture",
			"appsecret_proof": proof,
		}, "access_token")
		if len(problems) > 0 {
			t.Errorf("GET /me: %s", strings.Join(problems, "; "))
			mismatch(w, "%v", problems)
			return
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "facebook", "me.json"))
	})
	return serve(t, mux)
}

// --- Mercado Libre ------------------------------------------------------------

// The tokens mercadoLibreFake issues.
const (
	mercadoLibreAccess  = "APP_USR-123456-090515-8cc4448aac10d5105474e1351-1234567"
	mercadoLibreRefresh = "TG-5b9032b4e23464aed1f959f-1234567"
)

// mercadoLibreFake answers like Mercado Libre: credentials in the body,
// single-use refresh tokens, /users/me with the token in the header.
func mercadoLibreFake(t *testing.T, p Preset) *httptest.Server {
	idp := newPresetIdP(t, p)
	var mu sync.Mutex
	liveRefresh := mercadoLibreRefresh
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorization", idp.authorize)
	mux.HandleFunc("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			mismatch(w, "method %s, form %v", r.Method, err)
			return
		}
		var problems []string
		if r.Header.Get("Authorization") != "" {
			problems = append(problems, "Authorization header sent (ML takes the credentials in the body)")
		}
		if r.Header.Get("Accept") != "application/json" {
			problems = append(problems, "Accept is not application/json")
		}
		creds := map[string]string{"client_id": testClientID, "client_secret": testClientSecret}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			creds["redirect_uri"] = presetRedirect
			if problems = append(problems, presetFormProblems(r.PostForm, creds)...); len(problems) > 0 {
				break
			}
			if msg := idp.redeem(r.PostForm.Get("code"), r.PostForm.Get("code_verifier")); msg != "" {
				answerJSON(w, http.StatusBadRequest, presetFixture(t, "mercadolibre", "token_error.json"))
				return
			}
			answerJSON(w, http.StatusOK, presetFixture(t, "mercadolibre", "token.json"))
			return
		case "refresh_token":
			if problems = append(problems, presetFormProblems(r.PostForm, creds)...); len(problems) > 0 {
				break
			}
			mu.Lock()
			defer mu.Unlock()
			if r.PostForm.Get("refresh_token") != liveRefresh {
				answerJSON(w, http.StatusBadRequest, presetFixture(t, "mercadolibre", "token_error.json"))
				return
			}
			// Single use: each refresh rotates the refresh token.
			liveRefresh = "TG-rotated-1234567"
			answerJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":"APP_USR-2","token_type":"Bearer","expires_in":21600,"scope":"offline_access read","user_id":202593498,"refresh_token":%q}`, liveRefresh))
			return
		default:
			problems = append(problems, "grant_type "+r.PostForm.Get("grant_type"))
		}
		t.Errorf("token request: %s", strings.Join(problems, "; "))
		mismatch(w, "%v", problems)
	})
	mux.HandleFunc("GET /users/me", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("access_token") {
			t.Errorf("GET /users/me: access_token in the query; ML wants the header only")
		}
		if r.Header.Get("Authorization") != "Bearer "+mercadoLibreAccess {
			answerJSON(w, http.StatusUnauthorized, `{"message":"invalid_token","error":"not_found","status":401,"cause":[]}`)
			return
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "mercadolibre", "users_me.json"))
	})
	return serve(t, mux)
}

// --- WeChat -------------------------------------------------------------------

// weChatFake answers like WeChat: GET only, appid and secret in the query,
// errors as errcode with status 200, userinfo by openid.
func weChatFake(t *testing.T, p Preset) *httptest.Server {
	idp := newPresetIdP(t, p)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connect/qrconnect", idp.authorize)
	getOnly := func(r *http.Request) []string {
		var problems []string
		if r.Method != http.MethodGet {
			problems = append(problems, "method "+r.Method)
		}
		if r.ContentLength > 0 {
			problems = append(problems, "a body")
		}
		if r.Header.Get("Authorization") != "" {
			problems = append(problems, "an Authorization header")
		}
		return problems
	}
	mux.HandleFunc("/sns/oauth2/access_token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		problems := append(getOnly(r), presetFormProblems(q, map[string]string{
			"appid": testClientID, "secret": testClientSecret, "grant_type": "authorization_code",
		}, "client_id", "client_secret", "code_verifier")...)
		if len(problems) > 0 {
			t.Errorf("token request: %s", strings.Join(problems, "; "))
			mismatch(w, "%v", problems)
			return
		}
		if msg := idp.redeem(q.Get("code"), ""); msg != "" {
			answer(w, http.StatusOK, "text/plain", presetFixture(t, "wechat", "error.json"))
			return
		}
		answer(w, http.StatusOK, "text/plain", presetFixture(t, "wechat", "token.json"))
	})
	mux.HandleFunc("/sns/oauth2/refresh_token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		problems := append(getOnly(r), presetFormProblems(q, map[string]string{
			"appid": testClientID, "grant_type": "refresh_token",
		}, "client_id")...)
		if len(problems) > 0 {
			t.Errorf("refresh request: %s", strings.Join(problems, "; "))
			mismatch(w, "%v", problems)
			return
		}
		if q.Get("refresh_token") != "REFRESH_TOKEN" {
			answer(w, http.StatusOK, "text/plain", `{"errcode":40030,"errmsg":"invalid refresh_token"}`)
			return
		}
		answer(w, http.StatusOK, "text/plain", presetFixture(t, "wechat", "refresh.json"))
	})
	mux.HandleFunc("/sns/userinfo", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		problems := getOnly(r)
		if q.Get("lang") != "en" {
			problems = append(problems, "lang="+q.Get("lang"))
		}
		if len(problems) > 0 {
			t.Errorf("userinfo request: %s", strings.Join(problems, "; "))
			mismatch(w, "%v", problems)
			return
		}
		if q.Get("access_token") != "ACCESS_TOKEN" || q.Get("openid") != "OPENID" {
			answerJSON(w, http.StatusOK, `{"errcode":40003,"errmsg":"invalid openid"}`)
			return
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "wechat", "userinfo.json"))
	})
	return serve(t, mux)
}

// --- Fitbit -------------------------------------------------------------------

// fitbitFake answers like Fitbit: HTTP Basic client authentication, an
// errors[] body, the profile at /1/user/-/profile.json.
func fitbitFake(t *testing.T, p Preset) *httptest.Server {
	idp := newPresetIdP(t, p)
	const access = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE0MzAzNDM3MzUsInNjb3BlcyI6Indwcm8gd2xvYyB3bnV0IHdzbGUgd3NldCB3aHIgd3dlaSB3YWN0IHdzb2MiLCJzdWIiOiJBQkNERUYiLCJhdWQiOiJJSktMTU4iLCJpc3MiOiJGaXRiaXQiLCJ0eXAiOiJhY2Nlc3NfdG9rZW4iLCJpYXQiOjE0MzAzNDAxMzV9.z0VHrIEzjsBnjiNMBey6wtu26yHTnSWz_qlqoEpUlpc"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", idp.authorize)
	mux.HandleFunc("/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			mismatch(w, "method %s, form %v", r.Method, err)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != testClientID || secret != testClientSecret || r.PostForm.Has("client_secret") {
			t.Errorf("token request: Fitbit requires HTTP Basic client authentication (Basic %v, body secret %v)", ok, r.PostForm.Has("client_secret"))
			answerJSON(w, http.StatusUnauthorized, `{"errors":[{"errorType":"invalid_client","message":"Invalid authorization header format."}],"success":false}`)
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			if msg := idp.redeem(r.PostForm.Get("code"), r.PostForm.Get("code_verifier")); msg != "" {
				t.Errorf("token request: %s", msg)
				answerJSON(w, http.StatusBadRequest, `{"errors":[{"errorType":"invalid_grant","message":"Authorization code invalid"}],"success":false}`)
				return
			}
			answerJSON(w, http.StatusOK, presetFixture(t, "fitbit", "token.json"))
		case "refresh_token":
			answerJSON(w, http.StatusBadRequest, presetFixture(t, "fitbit", "error.json"))
		default:
			mismatch(w, "grant_type %q", r.PostForm.Get("grant_type"))
		}
	})
	mux.HandleFunc("GET /1/user/-/profile.json", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+access {
			answerJSON(w, http.StatusUnauthorized, `{"errors":[{"errorType":"invalid_token","message":"Access token invalid"}],"success":false}`)
			return
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "fitbit", "profile.json"))
	})
	return serve(t, mux)
}

// --- Bitbucket ----------------------------------------------------------------

// bitbucketFake answers like bitbucket.org and api.bitbucket.org: the
// consumer's token endpoint (HTTP Basic, refresh tokens single use) and
// the REST API (Bearer token in the header only, paginated lists with a
// next URL). emails, if set, replaces the e-mail list's answers.
func bitbucketFake(t *testing.T, emails http.HandlerFunc) *httptest.Server {
	p, _ := LookupPreset("bitbucket")
	idp := newPresetIdP(t, p)
	const access = "KTq1y9Hh2zMvW3oXcB5nD7fJ0gL4pR6sT8uV0wY2aC4eG6iK8mO0qS2uW4yA6cE8gI0kM2oQ4sU6wY8="
	var mu sync.Mutex
	liveRefresh := "fZ4hJ6kL8mN0pQ2rS4tU6vW8xY0zA2bC"
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /site/oauth2/authorize", idp.authorize)
	mux.HandleFunc("/site/oauth2/access_token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			mismatch(w, "method %s, form %v", r.Method, err)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != testClientID || secret != testClientSecret || r.PostForm.Has("client_secret") {
			t.Errorf("token request: Bitbucket documents HTTP Basic client authentication (Basic %v, body secret %v)", ok, r.PostForm.Has("client_secret"))
			answerJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"Client credentials missing"}`)
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			if msg := idp.redeem(r.PostForm.Get("code"), r.PostForm.Get("code_verifier")); msg != "" {
				t.Errorf("token request: %s", msg)
				answerJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"The authorization code is invalid or expired"}`)
				return
			}
			answerJSON(w, http.StatusOK, presetFixture(t, "bitbucket", "token.json"))
		case "refresh_token":
			mu.Lock()
			defer mu.Unlock()
			if r.PostForm.Get("refresh_token") != liveRefresh {
				answerJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Invalid refresh_token"}`)
				return
			}
			liveRefresh = "rotated-" + liveRefresh
			answerJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":"bb-access-2","scope":"account email","token_type":"bearer","expires_in":7200,"state":"refresh_token","refresh_token":%q}`, liveRefresh))
		default:
			mismatch(w, "grant_type %q", r.PostForm.Get("grant_type"))
		}
	})
	api := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("access_token") {
				t.Errorf("GET %s: access_token in the query; Bitbucket takes the header only", r.URL.Path)
			}
			if r.Header.Get("Authorization") != "Bearer "+access {
				answerJSON(w, http.StatusUnauthorized, `{"type":"error","error":{"message":"Access token expired."}}`)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /2.0/user", api(func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, presetFixture(t, "bitbucket", "user.json"))
	}))
	if emails == nil {
		emails = func(w http.ResponseWriter, r *http.Request) {
			file := "emails.json"
			if r.URL.Query().Get("page") == "2" {
				file = "emails_page2.json"
			}
			answerJSON(w, http.StatusOK, strings.ReplaceAll(presetFixture(t, "bitbucket", file), "{base}", srv.URL))
		}
	}
	mux.HandleFunc("GET /2.0/user/emails", api(emails))
	srv = serve(t, mux)
	return srv
}

// TestPresetBitbucketEmails: the e-mail address is the primary one, its
// flag is_confirmed; a list Bitbucket withholds is no address, and a next
// page on another host is never fetched with the token.
func TestPresetBitbucketEmails(t *testing.T) {
	t.Parallel()
	page := func(values string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			answerJSON(w, http.StatusOK, `{"pagelen":10,"page":1,"size":1,"values":[`+values+`]}`)
		}
	}
	tests := []struct {
		name          string
		emails        http.HandlerFunc
		email         string
		verified      *bool
		wantErrorKind ErrorKind
	}{
		{"unconfirmed primary", page(`{"email":"jane@example.com","is_primary":true,"is_confirmed":false},{"email":"j@x.example","is_primary":false,"is_confirmed":true}`),
			"jane@example.com", presetBool(false), 0},
		{"no primary", page(`{"email":"j@x.example","is_primary":false,"is_confirmed":true}`), "", nil, 0},
		{"primary with a control character", page(`{"email":"jane@example.com\r\nX: y","is_primary":true,"is_confirmed":true}`), "", nil, 0},
		{"no Email permission (403)", func(w http.ResponseWriter, r *http.Request) {
			answerJSON(w, http.StatusForbidden, `{"type":"error","error":{"message":"Your credentials lack one or more required privilege scopes."}}`)
		}, "", nil, 0},
		{"next page elsewhere", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("page") != "" {
				t.Errorf("the next page was fetched: %s", r.URL)
			}
			answerJSON(w, http.StatusOK, `{"values":[],"next":"https://evil.example/2.0/user/emails?page=2"}`)
		}, "", nil, 0},
		{"list down", func(w http.ResponseWriter, r *http.Request) {
			answerJSON(w, http.StatusServiceUnavailable, `{"type":"error","error":{"message":"Service unavailable"}}`)
		}, "", nil, ErrTransient},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { answer(w, http.StatusOK, "text/html", "<html>") }, "", nil, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := bitbucketFake(t, tt.emails)
			b := buildOnFake(t, "bitbucket", srv)
			id, err := b.Provider.Identify(t.Context(), &Tokens{AccessToken: "KTq1y9Hh2zMvW3oXcB5nD7fJ0gL4pR6sT8uV0wY2aC4eG6iK8mO0qS2uW4yA6cE8gI0kM2oQ4sU6wY8="})
			if tt.wantErrorKind != 0 {
				if !errors.Is(err, tt.wantErrorKind) {
					t.Errorf("Identify = %v, %v; want %v", id, err, tt.wantErrorKind)
				}
				return
			}
			if err != nil || id.ID == "" || id.Email != tt.email || !reflect.DeepEqual(id.EmailVerified, tt.verified) {
				t.Errorf("Identify = %s, %v; want e-mail %q verified %s", fmtPresetIdentity(id), err, tt.email, fmtBool(tt.verified))
			}
		})
	}
}

// --- Discord -------------------------------------------------------------------

// discordState is what discordFake's server remembers: the live refresh
// token and the last one revoked.
type discordState struct {
	mu                   sync.Mutex
	liveRefresh, revoked string
}

// discordStates finds a discordFake's state by its server's URL.
var discordStates sync.Map

// discordToken is the access token discordFake issues.
const discordToken = "MTA4NjQ5OTYwNzQ2MDc5MjU3Mg.dc_access_6qrZcUqja7812RVdnEKjpzOL4CvHBFG"

// discordFake answers like Discord's API v10: token (HTTP Basic, rotating
// refresh tokens), revocation and /users/@me.
func discordFake(t *testing.T, p Preset) *httptest.Server {
	idp := newPresetIdP(t, p)
	st := &discordState{liveRefresh: "D43f5y0ahjqew82jZ4NViEr2YafMKhue"}
	basic := func(w http.ResponseWriter, r *http.Request) bool {
		id, secret, ok := r.BasicAuth()
		if !ok || id != testClientID || secret != testClientSecret || r.PostForm.Has("client_secret") {
			t.Errorf("%s: the preset pins HTTP Basic client authentication (Basic %v, body secret %v)", r.URL.Path, ok, r.PostForm.Has("client_secret"))
			answerJSON(w, http.StatusUnauthorized, `{"error":"invalid_client"}`)
			return false
		}
		return true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", idp.authorize)
	mux.HandleFunc("/api/v10/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || !basic(w, r) {
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			if r.PostForm.Get("redirect_uri") != presetRedirect {
				t.Errorf("token request: redirect_uri %q", r.PostForm.Get("redirect_uri"))
			}
			if msg := idp.redeem(r.PostForm.Get("code"), r.PostForm.Get("code_verifier")); msg != "" {
				answerJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Invalid \"code\" in request."}`)
				return
			}
			answerJSON(w, http.StatusOK, presetFixture(t, "discord", "token.json"))
		case "refresh_token":
			st.mu.Lock()
			defer st.mu.Unlock()
			if r.PostForm.Get("refresh_token") != st.liveRefresh {
				answerJSON(w, http.StatusBadRequest, `{"error":"invalid_grant"}`)
				return
			}
			st.liveRefresh = "rotated-" + st.liveRefresh
			answerJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":"dc-access-2","token_type":"Bearer","expires_in":604800,"refresh_token":%q,"scope":"identify email"}`, st.liveRefresh))
		default:
			mismatch(w, "grant_type %q", r.PostForm.Get("grant_type"))
		}
	})
	mux.HandleFunc("POST /api/v10/oauth2/token/revoke", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || !basic(w, r) {
			return
		}
		st.mu.Lock()
		st.revoked = r.PostForm.Get("token")
		st.mu.Unlock()
		answerJSON(w, http.StatusOK, `{}`)
	})
	mux.HandleFunc("GET /api/v10/users/@me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+discordToken {
			answerJSON(w, http.StatusUnauthorized, `{"message":"401: Unauthorized","code":0}`)
			return
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "discord", "user.json"))
	})
	srv := serve(t, mux)
	discordStates.Store(srv.URL, st)
	return srv
}

// --- OIDC presets: data -------------------------------------------------------

func TestPresetOIDCData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		preset, tenant, issuer string
		want                   Preset // the URL fields and MultiTenant compared
		fixture                string // file in testdata/<preset>
		identity               Identity
	}{
		{
			preset: "google",
			want: Preset{
				IssuerURL:   "https://accounts.google.com",
				AuthURL:     "https://accounts.google.com/o/oauth2/v2/auth",
				TokenURL:    "https://oauth2.googleapis.com/token",
				UserinfoURL: "https://openidconnect.googleapis.com/v1/userinfo",
				RevokeURL:   "https://oauth2.googleapis.com/revoke",
			},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "1101694844743862", Email: "jane@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe",
				Picture: "https://lh3.googleusercontent.com/a/ACg8ocJane=s96-c", Locale: "en",
				Attributes: map[string]string{"Domain": "example.com"},
			},
		},
		{
			preset: "microsoft", tenant: "organizations",
			want: Preset{
				IssuerURL:   "https://login.microsoftonline.com/organizations/v2.0",
				MultiTenant: true,
				AuthURL:     "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
				TokenURL:    "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
				UserinfoURL: "https://graph.microsoft.com/oidc/userinfo",
				LogoutURL:   "https://login.microsoftonline.com/organizations/oauth2/v2.0/logout",
			},
			// The ID token's claims: oid is the id, xms_edov the flag.
			fixture: "id_token_claims.json",
			identity: Identity{
				ID: "00000000-0000-0000-66f3-3332eca7ea81", Email: "mikoll@contoso.com", EmailVerified: presetBool(true),
				Name: "Mikah Ollenburg", GivenName: "Mikah", FamilyName: "Ollenburg",
				Username: "mikoll@contoso.com", Groups: []string{"0b0a5f0c-2a2e-4d6f-8a8a-1f0f3e2c5d77"},
				Attributes: map[string]string{"Tenant": "b9419818-09af-49c2-b0c3-653adc1f376e"},
			},
		},
		{
			preset: "microsoft", tenant: "b9419818-09af-49c2-b0c3-653adc1f376e",
			want: Preset{
				IssuerURL:   "https://login.microsoftonline.com/b9419818-09af-49c2-b0c3-653adc1f376e/v2.0",
				AuthURL:     "https://login.microsoftonline.com/b9419818-09af-49c2-b0c3-653adc1f376e/oauth2/v2.0/authorize",
				TokenURL:    "https://login.microsoftonline.com/b9419818-09af-49c2-b0c3-653adc1f376e/oauth2/v2.0/token",
				UserinfoURL: "https://graph.microsoft.com/oidc/userinfo",
				LogoutURL:   "https://login.microsoftonline.com/b9419818-09af-49c2-b0c3-653adc1f376e/oauth2/v2.0/logout",
			},
			// Userinfo alone: no oid, no flag (the address is then
			// untrusted, EmailVerifiedDefault false).
			fixture: "userinfo.json",
			identity: Identity{
				ID: "OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA", Email: "mikoll@contoso.com",
				Name: "Mikah Ollenburg", GivenName: "Mikah", FamilyName: "Ollenburg",
				Picture: "https://graph.microsoft.com/v1.0/me/photo/$value",
			},
		},
		{
			preset: "linkedin",
			want: Preset{
				IssuerURL:   "https://www.linkedin.com/oauth",
				AuthURL:     "https://www.linkedin.com/oauth/v2/authorization",
				TokenURL:    "https://www.linkedin.com/oauth/v2/accessToken",
				UserinfoURL: "https://api.linkedin.com/v2/userinfo",
			},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "vaz8tJ1Aah", Email: "user@example.com", EmailVerified: presetBool(true),
				Name: "Example User", GivenName: "Example", FamilyName: "User",
				Picture: "https://media.licdn.com/dms/image/C4D03AQExample/profile-displayphoto-shrink_100_100/0/1600000000000",
				Locale:  "en",
			},
		},
		{
			preset: "gitlab",
			want: Preset{
				IssuerURL:   "https://gitlab.com",
				AuthURL:     "https://gitlab.com/oauth/authorize",
				TokenURL:    "https://gitlab.com/oauth/token",
				UserinfoURL: "https://gitlab.com/oauth/userinfo",
				RevokeURL:   "https://gitlab.com/oauth/revoke",
			},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "1234567", Email: "jdoe@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", Username: "jdoe",
				Picture: "https://gitlab.com/uploads/-/system/user/avatar/1234567/avatar.png",
				Groups:  []string{"acme", "acme/platform"},
			},
		},
		{
			preset: "gitlab", issuer: "https://git.example.com/",
			want: Preset{
				IssuerURL:   "https://git.example.com",
				AuthURL:     "https://git.example.com/oauth/authorize",
				TokenURL:    "https://git.example.com/oauth/token",
				UserinfoURL: "https://git.example.com/oauth/userinfo",
				RevokeURL:   "https://git.example.com/oauth/revoke",
			},
		},
		{
			preset: "slack",
			want: Preset{
				IssuerURL:   "https://slack.com",
				AuthURL:     "https://slack.com/openid/connect/authorize",
				TokenURL:    "https://slack.com/api/openid.connect.token",
				UserinfoURL: "https://slack.com/api/openid.connect.userInfo",
			},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "U0R7JM", Email: "krane@slack-corp.com", EmailVerified: presetBool(true),
				Name: "krane", GivenName: "Bront", FamilyName: "Labradoodle",
				Picture: "https://secure.gravatar.com/avatar/bc5b1c1e8a1a7d8c7e0b1c0e0c3a1b0e.jpg?s=512",
				Locale:  "en-US", Attributes: map[string]string{"Team": "T0R7GR"},
			},
		},
		{
			preset: "keycloak", issuer: "https://sso.example.com/realms/acme/",
			want: Preset{
				IssuerURL:   "https://sso.example.com/realms/acme",
				AuthURL:     "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
				TokenURL:    "https://sso.example.com/realms/acme/protocol/openid-connect/token",
				UserinfoURL: "https://sso.example.com/realms/acme/protocol/openid-connect/userinfo",
				RevokeURL:   "https://sso.example.com/realms/acme/protocol/openid-connect/revoke",
				LogoutURL:   "https://sso.example.com/realms/acme/protocol/openid-connect/logout",
			},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "0b8c5e2a-5f0e-4a39-9c1d-3c2f6b7a9e10", Email: "jdoe@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe", Username: "jdoe",
				Groups: []string{"/engineering", "/engineering/platform"},
			},
		},
		// Without ISSUER_URL nothing is made up: Needs reports it.
		{preset: "keycloak", want: Preset{}},
		{
			preset: "auth0", issuer: "https://acme.eu.auth0.com",
			want: Preset{
				IssuerURL:   "https://acme.eu.auth0.com/",
				AuthURL:     "https://acme.eu.auth0.com/authorize",
				TokenURL:    "https://acme.eu.auth0.com/oauth/token",
				UserinfoURL: "https://acme.eu.auth0.com/userinfo",
				RevokeURL:   "https://acme.eu.auth0.com/oauth/revoke",
				LogoutURL:   "https://acme.eu.auth0.com/oidc/logout",
			},
			// nickname is not unique at Auth0: not the username.
			fixture: "userinfo.json",
			identity: Identity{
				ID: "auth0|64f1c2a9b0e4d3c2b1a09f87", Email: "jdoe@example.com", EmailVerified: presetBool(true),
				Name:    "Jane Doe",
				Picture: "https://s.gravatar.com/avatar/5f4dcc3b5aa765d61d8327deb882cf99?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png",
			},
		},
		{
			preset: "auth0", issuer: "https://login.example.com/",
			want: Preset{
				IssuerURL:   "https://login.example.com/",
				AuthURL:     "https://login.example.com/authorize",
				TokenURL:    "https://login.example.com/oauth/token",
				UserinfoURL: "https://login.example.com/userinfo",
				RevokeURL:   "https://login.example.com/oauth/revoke",
				LogoutURL:   "https://login.example.com/oidc/logout",
			},
		},
		{
			// A custom authorization server: every endpoint from discovery.
			preset: "okta", issuer: "https://acme.okta.com/oauth2/default",
			want:    Preset{IssuerURL: "https://acme.okta.com/oauth2/default"},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "00u1ab2cd3EF4gh5ij6k", Email: "jane.doe@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe", Username: "jane.doe@example.com",
				Locale: "de-DE", Groups: []string{"Everyone", "Engineering"},
			},
		},
		{
			// The org authorization server; an introspection answer's sub
			// is the login, its uid the id ID tokens carry as sub.
			preset: "okta", issuer: "https://acme.okta.com",
			want:     Preset{IssuerURL: "https://acme.okta.com"},
			fixture:  "introspection.json",
			identity: Identity{ID: "00u1ab2cd3EF4gh5ij6k"},
		},
		// Without ISSUER_URL nothing is made up: Needs reports it.
		{preset: "okta", want: Preset{}},
		{
			// Userinfo's email_verified is the string "true".
			preset: "cognito", issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_aBcDeFgHi",
			want:    Preset{IssuerURL: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_aBcDeFgHi"},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "94a8d4c8-1071-70d6-4b37-1a2b3c4d5e6f", Email: "jane@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", Username: "jane",
			},
		},
		{
			preset: "cognito", issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_aBcDeFgHi",
			want:    Preset{IssuerURL: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_aBcDeFgHi"},
			fixture: "id_token_claims.json",
			identity: Identity{
				ID: "94a8d4c8-1071-70d6-4b37-1a2b3c4d5e6f", Email: "jane@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", Username: "jane", Groups: []string{"admins", "staff"},
			},
		},
		{preset: "cognito", want: Preset{}},
		{
			// The issuer is taken as given, slash and all: it must be
			// the discovery document's exactly. Userinfo has no flag.
			preset: "gitea", issuer: "https://git.example.com/",
			want:    Preset{IssuerURL: "https://git.example.com/"},
			fixture: "userinfo.json",
			identity: Identity{
				ID: "42", Email: "jdoe@example.com", Name: "Jane Doe", Username: "jdoe",
				Picture: "https://git.example.com/avatars/9b2f4e6c1d8a7b3e5f0c2d4a6b8e1f3a",
				Groups:  []string{"acme", "acme:owners", "acme:platform"},
			},
		},
		{preset: "gitea", issuer: "https://codeberg.org", want: Preset{IssuerURL: "https://codeberg.org"}},
		{preset: "gitea", want: Preset{}},
	}
	for _, tc := range tests {
		t.Run(tc.preset+"/"+tc.tenant+tc.issuer, func(t *testing.T) {
			t.Parallel()
			base, ok := LookupPreset(tc.preset)
			if !ok {
				t.Fatalf("LookupPreset(%q) not found", tc.preset)
			}
			p := base.Expand(tc.tenant, tc.issuer)
			if p.Kind != KindOIDC {
				t.Errorf("Kind = %v; want oidc", p.Kind)
			}
			if !slices.Contains(p.Scopes, "openid") {
				t.Errorf("Scopes = %q; want openid among them", p.Scopes)
			}
			got := Preset{
				IssuerURL: p.IssuerURL, MultiTenant: p.MultiTenant, AuthURL: p.AuthURL, TokenURL: p.TokenURL,
				UserinfoURL: p.UserinfoURL, RefreshURL: p.RefreshURL, RevokeURL: p.RevokeURL, LogoutURL: p.LogoutURL,
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Expand(%q, %q) URLs =\n  %+v\nwant\n  %+v", tc.tenant, tc.issuer, got, tc.want)
			}
			if tc.fixture == "" {
				return
			}
			id, err := p.Claims.WithDefaults().Map(presetFixtureDoc(t, tc.preset, tc.fixture))
			if err != nil {
				t.Fatalf("Claims.Map(%s): %v", tc.fixture, err)
			}
			checkPresetIdentity(t, id, tc.identity)
		})
	}
}

// --- the table --------------------------------------------------------------

func TestPresetNames(t *testing.T) {
	t.Parallel()
	want := []string{"oauth2", "oidc", "google", "github", "microsoft", "facebook", "linkedin", "gitlab", "slack", "fitbit", "mercadolibre", "wechat", "keycloak", "auth0", "okta", "cognito", "gitea", "bitbucket", "discord", "apple"}
	if got := PresetNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("PresetNames() = %q; want %q", got, want)
	}
	if _, ok := LookupPreset("instagram"); ok {
		t.Errorf("LookupPreset(instagram) found a preset; the legacy Instagram API is gone")
	}
	if p, ok := LookupPreset(" GitHub "); !ok || p.Name != "github" {
		t.Errorf("LookupPreset(\" GitHub \") = %q, %v; want github", p.Name, ok)
	}
}

// TestPresetTable checks every preset's data against the rules of the SPEC
// and PROVIDERS.md.
func TestPresetTable(t *testing.T) {
	t.Parallel()
	// The generic OAuth2 provider, else GitHub's, Facebook's and
	// Bitbucket's own, else OIDC.
	kinds := map[string]Kind{"oauth2": KindOAuth2, "github": KindGitHub, "facebook": KindFacebook, "fitbit": KindOAuth2, "mercadolibre": KindOAuth2, "wechat": KindOAuth2,
		"bitbucket": KindBitbucket, "discord": KindOAuth2}
	// PKCE off where PROVIDERS.md and the providers' users report trouble:
	// WeChat, LinkedIn (refuses code_verifier), Slack (fails with PKCE),
	// Facebook (only its OIDC test flow), Mercado Libre (an app setting,
	// off by default, mandatory when on), Bitbucket Cloud (no PKCE).
	noPKCE := map[string]bool{"wechat": true, "linkedin": true, "slack": true, "facebook": true, "mercadolibre": true, "bitbucket": true}
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, _ := LookupPreset(name)
			generic := name == "oauth2" || name == "oidc"
			want, ok := kinds[name]
			if !ok {
				want = KindOIDC
			}
			if raw.Kind != want {
				t.Errorf("Kind = %v; want %v", raw.Kind, want)
			}
			if !strings.Contains(raw.Console, "/oauth2/callback") {
				t.Errorf("Console does not name the redirect URI to register: %q", raw.Console)
			}
			if generic != (raw.DisplayName == "") {
				t.Errorf("DisplayName = %q", raw.DisplayName)
			}
			if raw.Kind == KindOIDC && !slices.Contains(raw.Scopes, "openid") {
				t.Errorf("Scopes = %q; an OIDC preset needs openid", raw.Scopes)
			}
			if slices.Contains(raw.Scopes, "r_liteprofile") || slices.Contains(raw.Scopes, "r_emailaddress") {
				t.Errorf("Scopes = %q: retired LinkedIn scopes", raw.Scopes)
			}
			if raw.PKCE == noPKCE[name] {
				t.Errorf("PKCE = %v; want %v", raw.PKCE, !noPKCE[name])
			}
			if (name == "fitbit") != (raw.Deprecated != "") {
				t.Errorf("Deprecated = %q", raw.Deprecated)
			}

			// Expanded with what Needs asks for, every URL is absolute
			// HTTPS, and no placeholder is left.
			issuer := ""
			if slices.Contains(raw.Needs, "ISSUER_URL") {
				issuer = "https://id.example.com/realms/x"
			}
			p := raw.Expand("", issuer)
			if p.Kind == KindOIDC && !generic && p.IssuerURL == "" {
				t.Errorf("IssuerURL empty after Expand")
			}
			for _, u := range append([]string{p.IssuerURL}, p.AuthURL, p.TokenURL, p.UserinfoURL, p.RefreshURL, p.RevokeURL, p.LogoutURL) {
				if u == "" {
					continue
				}
				pu, err := url.Parse(u)
				if err != nil || pu.Scheme != "https" || pu.Host == "" || strings.ContainsAny(u, "{}") {
					t.Errorf("URL %q after Expand is not an absolute https URL without placeholders", u)
				}
			}
			// The preset alone (plus credentials, and what Needs asks
			// for) makes a valid provider.
			settings := Settings{Preset: name, ClientID: testClientID, ClientSecret: testClientSecret, IssuerURL: issuer}
			if slices.Contains(raw.Needs, "CLIENT_KEY_FILE") { // apple
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				settings.ClientSecret, settings.ClientKeyFile, settings.ClientKeyID, settings.AppleTeamID = "", writeKey(t, key), "KEY123", "TEAM123456"
			}
			if _, err := Build(settings, BuildOptions{}); err != nil && !generic {
				t.Errorf("Build(the preset and credentials): %v", err)
			}
			if name == "oauth2" {
				_, err := Build(Settings{Preset: name, ClientID: testClientID, ClientSecret: testClientSecret}, BuildOptions{})
				for _, setting := range []string{"AUTH_URL", "TOKEN_URL", "USERINFO_URL"} {
					if err == nil || !strings.Contains(err.Error(), setting+": required") {
						t.Errorf("Build(generic oauth2 without URLs) = %v; want %s required", err, setting)
					}
				}
			}
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[Kind]string{KindOAuth2: "oauth2", KindOIDC: "oidc", KindGitHub: "github", KindFacebook: "facebook", KindBitbucket: "bitbucket", Kind(9): "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}

// TestPresetCopies: what LookupPreset returns can be changed without
// changing the table.
func TestPresetCopies(t *testing.T) {
	t.Parallel()
	p, _ := LookupPreset("wechat")
	p.Scopes[0] = "changed"
	p.UserinfoParams.Set("lang", "zh_CN")
	p.Claims.ID[0] = "changed"
	e := p.Expand("", "")
	e.Claims.Name[0] = "changed"
	again, _ := LookupPreset("wechat")
	if again.Scopes[0] != "snsapi_login" || again.UserinfoParams.Get("lang") != "en" || again.Claims.ID[0] != "unionid" || again.Claims.Name[0] != "nickname" {
		t.Errorf("the preset table changed through a copy: %+v", again)
	}
}

// TestPresetApply: a preset fills only what the operator did not set
// (Resolve), and says which settings it filled.
func TestPresetApply(t *testing.T) {
	t.Parallel()
	r, err := Resolve(Settings{
		Preset:      "wechat",
		ClientID:    testClientID,
		TokenURL:    "https://proxy.example.com/token",
		TokenMethod: "POST",
		Claims:      Claims{ID: []string{"openid"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := r.config()
	checks := []struct {
		name      string
		got, want any
	}{
		{"TokenURL (explicit)", got.TokenURL, "https://proxy.example.com/token"},
		{"Claims.ID (explicit)", got.Claims.ID, []string{"openid"}},
		{"TokenMethod (explicit POST)", got.TokenMethod, "POST"},
		{"AuthURL", got.AuthURL, "https://open.weixin.qq.com/connect/qrconnect#wechat_redirect"},
		{"RefreshURL", got.RefreshURL, "https://api.weixin.qq.com/sns/oauth2/refresh_token"},
		{"ClientIDParam", got.ClientIDParam, "appid"},
		{"UserinfoToken", got.UserinfoToken, "query"},
		{"UserinfoParams", got.UserinfoParams, url.Values{"lang": {"en"}}},
		{"Claims.Name", got.Claims.Name, []string{"nickname"}},
		{"Claims.Email (generic default)", got.Claims.Email, []string{"email"}},
		{"TokenAuthStyle (no preset value)", got.TokenAuthStyle, AuthStyleAuto},
		{"Settings.TokenAuthStyle (no preset value)", r.TokenAuthStyle, "auto"},
		{"PKCE", *r.PKCE, false},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v; want %#v", c.name, c.got, c.want)
		}
	}
	for setting, want := range map[string]bool{
		"AUTH_URL": true, "REFRESH_URL": true, "CLIENT_ID_PARAM": true, "USERINFO_PARAMS": true, "CLAIM_NAME": true, "PKCE": true,
		"TOKEN_URL": false, "TOKEN_METHOD": false, "CLAIM_ID": false, "CLAIM_EMAIL": false, "TOKEN_AUTH_STYLE": false, "CLIENT_ID": false,
	} {
		if r.FromPreset[setting] != want {
			t.Errorf("FromPreset[%s] = %v; want %v", setting, r.FromPreset[setting], want)
		}
	}
	google, err := Resolve(Settings{Preset: "google"})
	if err != nil {
		t.Fatal(err)
	}
	if !google.FromPreset["ISSUER_URL"] || google.IssuerURL != "https://accounts.google.com" || google.FromPreset["AUTH_URL"] || google.AuthURL != "" {
		t.Errorf("google: ISSUER_URL %q (from the preset %v), AUTH_URL %q (%v); want the preset's issuer and the endpoints left to discovery",
			google.IssuerURL, google.FromPreset["ISSUER_URL"], google.AuthURL, google.FromPreset["AUTH_URL"])
	}
	for style, want := range map[string]AuthStyle{"": AuthStyleParams, "auto": AuthStyleAuto} {
		gh, err := Resolve(Settings{Preset: "github", TokenAuthStyle: style})
		if err != nil {
			t.Fatal(err)
		}
		if got := gh.config().TokenAuthStyle; got != want {
			t.Errorf("github with TOKEN_AUTH_STYLE %q: TokenAuthStyle = %v; want %v (the operator's word, else the preset's)", style, got, want)
		}
	}
}

// TestPresetExamples: every preset has a runnable env file and a README row
// under examples/providers.
func TestPresetExamples(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "examples", "providers")
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range PresetNames() {
		file := name + ".env"
		if name == "oauth2" || name == "oidc" {
			file = "generic-" + name + ".env"
		}
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			vars := map[string]string{}
			sc := bufio.NewScanner(f)
			for n := 1; sc.Scan(); n++ {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				k, v, ok := strings.Cut(line, "=")
				if !ok || !strings.HasPrefix(k, "PORTCULLIS_") {
					t.Errorf("%s:%d: %q is not a PORTCULLIS_ variable assignment", file, n, line)
					continue
				}
				vars[k] = v
			}
			if vars["PORTCULLIS_PROVIDER"] != name {
				t.Errorf("%s: PORTCULLIS_PROVIDER=%q; want %q", file, vars["PORTCULLIS_PROVIDER"], name)
			}
			p, _ := LookupPreset(name)
			needs := []string{"CLIENT_ID", "CLIENT_SECRET", "COOKIE_SECRET", "PUBLIC_URL", "UPSTREAM"}
			if slices.Contains(p.Needs, "CLIENT_KEY_FILE") {
				needs = slices.DeleteFunc(needs, func(s string) bool { return s == "CLIENT_SECRET" }) // signed by Portcullis
			}
			for _, need := range append(needs, p.Needs...) {
				if _, ok := vars["PORTCULLIS_"+need]; !ok {
					t.Errorf("%s does not set PORTCULLIS_%s", file, need)
				}
			}
			if !strings.Contains(string(readme), "| `"+name+"` |") {
				t.Errorf("README.md has no row for %s", name)
			}
		})
	}
}

func ExamplePreset_Expand() {
	p, _ := LookupPreset("auth0")
	p = p.Expand("", "https://acme.eu.auth0.com")
	fmt.Println(p.IssuerURL)
	fmt.Println(p.AuthURL)
	fmt.Println(p.LogoutURL)

	ms, _ := LookupPreset("microsoft")
	ms = ms.Expand("organizations", "")
	fmt.Println(ms.TokenURL, ms.MultiTenant)
	// Output:
	// https://acme.eu.auth0.com/
	// https://acme.eu.auth0.com/authorize
	// https://acme.eu.auth0.com/oidc/logout
	// https://login.microsoftonline.com/organizations/oauth2/v2.0/token true
}

// TestFacebookWithoutProof: without the option the profile call carries no
// appsecret_proof, and the token stays in the Authorization header.
func TestFacebookWithoutProof(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("appsecret_proof") || r.URL.Query().Has("access_token") || r.Header.Get("Authorization") != "Bearer EAAtoken" {
			t.Errorf("GET %s with Authorization %q", r.URL.RequestURI(), r.Header.Get("Authorization"))
		}
		answerJSON(w, http.StatusOK, presetFixture(t, "facebook", "me.json"))
	}))
	r, err := Resolve(presetOnFake(t, "facebook", srv))
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.config()
	cfg.HTTPClient = srv.Client()
	prov, err := NewFacebook(cfg, FacebookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := prov.Identify(t.Context(), &Tokens{AccessToken: "EAAtoken"})
	if err != nil || id.ID != "10158362538372291" {
		t.Errorf("Identify = %+v, %v; want id 10158362538372291", id, err)
	}
}
