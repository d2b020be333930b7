package zitadel_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/stack"
)

// The clients registered at the example provider.
const (
	portcullisClient = "portcullis"
	portcullisSecret = "portcullis-secret-at-the-example-op"
	// otherClient is another web app of the same provider, which the
	// same user signs in to; its tokens are not Portcullis's.
	otherClient   = "other-app"
	otherSecret   = "other-app-secret-at-the-example-op"
	otherRedirect = "http://127.0.0.1:1/other/callback" // never fetched: the code is read off the redirect
	// serviceClient and serviceSecret are the example storage's own
	// service user, for the client-credentials grant.
	serviceClient = "sid1"
	serviceSecret = "verysecret"
	// userID is the example storage's first user.
	userID = "id1"
)

// opOptions change the example provider through its storage; all are
// optional.
type opOptions struct {
	// postLogout are post-logout redirect URIs registered for Portcullis's
	// client besides its base URL + "/".
	postLogout []string
	// tokenLifetime, when not zero, replaces the example's access-token
	// lifetime (5 minutes): the token response's expires_in says it, and
	// the provider's userinfo and introspection endpoints refuse the
	// token after it.
	tokenLifetime time.Duration
	// jwtAccessTokens makes the provider issue JWT access tokens to
	// Portcullis's client; the example issues opaque ones.
	jwtAccessTokens bool
	// introspectAnyClient makes introspection answer for the token of any
	// client, as realm-wide introspection endpoints do (Keycloak's, for
	// one): the answer names the token's own client_id, and telling that
	// it is not Portcullis's is left to Portcullis. The example answers
	// only for tokens whose audience names the calling client.
	introspectAnyClient bool
	// foreignNonce makes the ID tokens of Portcullis's sign-ins carry a
	// nonce other than the one the authorization request sent, as an ID
	// token made for another sign-in does.
	foreignNonce bool
}

// exampleOP is zitadel/oidc's example OpenID provider (exampleop, over
// its in-memory storage) served on loopback until the test ends.
type exampleOP struct {
	issuer    string
	discovery discovery
	// user signs in at the login form: the example's user id1.
	user  *storage.User
	store *opStorage
}

// discovery is the part of the provider's discovery document the tests
// use; they call the endpoints it names, as Portcullis does.
type discovery struct {
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
	Introspection string `json:"introspection_endpoint"`
	EndSession    string `json:"end_session_endpoint"`
}

// startOP serves the example provider with its storage wrapped as opts
// say. Portcullis's client is registered with a redirect URI on port 1
// until setPortcullis names its address.
func startOP(t *testing.T, opts opOptions) *exampleOP {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	users := storage.NewUserStore(issuer)
	clients := map[string]*storage.Client{
		portcullisClient: storage.WebClient(portcullisClient, portcullisSecret, "http://127.0.0.1:1/oauth2/callback"),
		otherClient:      storage.WebClient(otherClient, otherSecret, otherRedirect),
	}
	st := &opStorage{Storage: storage.NewStorageWithClients(users, clients), opts: opts, tokens: map[string]issued{}, rts: map[string]string{}}
	st.setPortcullis("http://127.0.0.1:1")
	// nil logger: SetupServer would make it the process's default.
	srv.Config.Handler = exampleop.SetupServer(issuer, st, nil, false)
	srv.Start()
	t.Cleanup(srv.Close)

	o := &exampleOP{issuer: issuer, user: users.GetUserByID(userID), store: st}
	if o.user == nil {
		t.Fatalf("the example's user store has no user %q", userID)
	}
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&o.discovery); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: status %d, %v", resp.StatusCode, err)
	}
	return o
}

// opStorage is the example's storage with what the tests change and watch:
// Portcullis's client registration, the access-token lifetime, the
// introspection's reach, the nonce; and a record of the authorization
// requests, tokens, refresh grants, revocations and ended sessions.
type opStorage struct {
	*storage.Storage
	opts opOptions
	// portcullis is Portcullis's base URL: its client's redirect URI is
	// that + /oauth2/callback, its post-logout redirect URIs that + / and
	// opts.postLogout.
	portcullis atomic.Pointer[string]

	mu           sync.Mutex
	authRequests []oidc.AuthRequest // as the provider received them
	tokens       map[string]issued  // by access token id
	rts          map[string]string  // the latest refresh token, by client
	presented    []string           // refresh tokens presented in refresh grants
	refreshes    []refresh          // refresh grants that succeeded
	introspected []string           // the clients that asked, one per introspection of a token the provider issued
	revocations  []revocation
	endSessions  []endSession
}

// issued is an access token the provider issued.
type issued struct {
	clientID string // the first audience: the client it was issued to
	expires  time.Time
}

// refresh is a refresh-token grant: the refresh token spent and the one
// that replaced it (the example rotates them).
type refresh struct{ spent, issued string }

type revocation struct{ clientID, userID string }

type endSession struct{ clientID, userID string }

// setPortcullis registers base as Portcullis's address.
func (s *opStorage) setPortcullis(base string) { s.portcullis.Store(&base) }

// registered is an example client as the tests register it.
type registered struct {
	op.Client
	redirect        string
	postLogout      []string
	accessTokenType op.AccessTokenType
}

func (c registered) RedirectURIs() []string              { return []string{c.redirect} }
func (c registered) PostLogoutRedirectURIs() []string    { return c.postLogout }
func (c registered) AccessTokenType() op.AccessTokenType { return c.accessTokenType }

// GetClientByClientID registers Portcullis's client at its current address
// (the example's WebClient has no post-logout redirect URIs), with JWT
// access tokens when asked to.
func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || id != portcullisClient {
		return c, err
	}
	base := *s.portcullis.Load()
	r := registered{Client: c, redirect: base + "/oauth2/callback", postLogout: append([]string{base + "/"}, s.opts.postLogout...), accessTokenType: c.AccessTokenType()}
	if s.opts.jwtAccessTokens {
		r.accessTokenType = op.AccessTokenTypeJWT
	}
	return r, nil
}

// CreateAuthRequest records the authorization request; with foreignNonce
// it replaces the nonce of Portcullis's.
func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	s.mu.Lock()
	s.authRequests = append(s.authRequests, *req)
	s.mu.Unlock()
	if s.opts.foreignNonce && req.ClientID == portcullisClient {
		r := *req
		r.Nonce = "the-nonce-of-another-sign-in"
		req = &r
	}
	return s.Storage.CreateAuthRequest(ctx, req, userID)
}

// TokenRequestByRefreshToken records the refresh token a refresh grant
// presents, before the provider looks it up.
func (s *opStorage) TokenRequestByRefreshToken(ctx context.Context, rt string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	s.presented = append(s.presented, rt)
	s.mu.Unlock()
	return s.Storage.TokenRequestByRefreshToken(ctx, rt)
}

func (s *opStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	if err != nil {
		return id, exp, err
	}
	return id, s.issue(id, req, exp), nil
}

func (s *opStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	id, rt, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
	if err != nil {
		return id, rt, exp, err
	}
	exp = s.issue(id, req, exp)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rts[s.tokens[id].clientID] = rt
	if current != "" {
		s.refreshes = append(s.refreshes, refresh{spent: current, issued: rt})
	}
	return id, rt, exp, nil
}

// issue records access token id and returns its expiry: exp, or
// tokenLifetime from now.
func (s *opStorage) issue(id string, req op.TokenRequest, exp time.Time) time.Time {
	if s.opts.tokenLifetime > 0 {
		exp = time.Now().Add(s.opts.tokenLifetime)
	}
	var client string
	if aud := req.GetAudience(); len(aud) > 0 {
		client = aud[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[id] = issued{clientID: client, expires: exp}
	return exp
}

func (s *opStorage) token(id string) (issued, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	return t, ok
}

// errExpired is the answer about an access token past tokenLifetime.
var errExpired = errors.New("token is expired")

func (s *opStorage) expired(id string) bool {
	t, ok := s.token(id)
	return ok && !time.Now().Before(t.expires)
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if s.expired(tokenID) {
		return errExpired
	}
	return s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin)
}

// SetIntrospectionFromToken answers as the example does, but refuses a
// token past tokenLifetime, and with introspectAnyClient answers for any
// client's token as if its own client asked.
func (s *opStorage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	s.introspected = append(s.introspected, clientID)
	s.mu.Unlock()
	if s.expired(tokenID) {
		return errExpired
	}
	if t, ok := s.token(tokenID); ok && s.opts.introspectAnyClient {
		clientID = t.clientID
	}
	return s.Storage.SetIntrospectionFromToken(ctx, resp, tokenID, subject, clientID)
}

func (s *opStorage) RevokeToken(ctx context.Context, token, userID, clientID string) *oidc.Error {
	s.mu.Lock()
	s.revocations = append(s.revocations, revocation{clientID: clientID, userID: userID})
	s.mu.Unlock()
	return s.Storage.RevokeToken(ctx, token, userID, clientID)
}

func (s *opStorage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	s.endSessions = append(s.endSessions, endSession{clientID: clientID, userID: userID})
	s.mu.Unlock()
	return s.Storage.TerminateSession(ctx, userID, clientID)
}

// authRequestsOf returns the authorization requests client made so far.
func (s *opStorage) authRequestsOf(client string) []oidc.AuthRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []oidc.AuthRequest
	for _, r := range s.authRequests {
		if r.ClientID == client {
			out = append(out, r)
		}
	}
	return out
}

// refreshToken returns the latest refresh token the provider issued to
// client.
func (s *opStorage) refreshToken(client string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rts[client]
}

// presentedRefreshTokens returns the refresh tokens refresh grants
// presented so far, in order, whether the grant succeeded or not.
func (s *opStorage) presentedRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.presented)
}

// refreshGrants returns the refresh grants that succeeded so far, in order.
func (s *opStorage) refreshGrants() []refresh {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refreshes)
}

// introspections returns how many times client has asked the
// introspection endpoint about a token the provider issued.
func (s *opStorage) introspections(client string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.introspected {
		if c == client {
			n++
		}
	}
	return n
}

func (s *opStorage) revoked() []revocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.revocations)
}

func (s *opStorage) ended() []endSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.endSessions)
}

// logIn drives the provider's pages like a browser from authURL, an
// authorization URL: it follows the provider's redirects, fills in its
// login form with o.user's name and password, and returns the URL the
// provider finally sends the browser to (the client's redirect URI with
// the code), without fetching it.
func (o *exampleOP) logIn(t *testing.T, b *stack.Browser, authURL string) *url.URL {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatalf("authorization URL %q: %v", authURL, err)
	}
	forms := 0
	for range 10 {
		if !strings.HasPrefix(u.String(), o.issuer+"/") {
			return u
		}
		resp := b.Do("GET", u.String(), nil, nil)
		if resp.StatusCode == http.StatusOK {
			if forms++; forms > 1 {
				t.Fatalf("the provider showed its login form again at %s: %.300s", u, stack.ReadBody(t, resp))
			}
			resp = o.submitLogin(t, b, resp)
		}
		loc, err := resp.Location()
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: status %d, not a redirect", resp.Request.URL, resp.StatusCode)
		}
		u = loc
	}
	t.Fatalf("the provider redirected more than 10 times from %s", authURL)
	return nil
}

// submitLogin reads the login page in resp, fills its username and
// password fields and posts the form as a browser would, hidden fields
// and all.
func (o *exampleOP) submitLogin(t *testing.T, b *stack.Browser, resp *http.Response) *http.Response {
	t.Helper()
	page := resp.Request.URL
	doc, err := html.Parse(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		t.Fatalf("login page %s: %v", page, err)
	}
	var action, method string
	fields := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(name string) string {
				for _, a := range n.Attr {
					if a.Key == name {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				action, method = attr("action"), attr("method")
			case "input":
				if name := attr("name"); name != "" {
					fields.Set(name, attr("value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !fields.Has("username") || !fields.Has("password") || !strings.EqualFold(method, "post") {
		t.Fatalf("%s is not the login form (method %q, fields %v)", page, method, fields)
	}
	fields.Set("username", o.user.Username)
	fields.Set("password", o.user.Password)
	target, err := page.Parse(action)
	if err != nil {
		t.Fatalf("login form action %q: %v", action, err)
	}
	return b.Do("POST", target.String(), strings.NewReader(fields.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

// signInOther signs o.user in to otherClient (not through Portcullis),
// with PKCE, and returns its tokens.
func (o *exampleOP) signInOther(t *testing.T) *oauth2.Token {
	t.Helper()
	conf := oauth2.Config{
		ClientID:     otherClient,
		ClientSecret: otherSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: o.discovery.Authorization, TokenURL: o.discovery.Token},
		RedirectURL:  otherRedirect,
		Scopes:       []string{"openid", "email", "profile", "offline_access"},
	}
	verifier := oauth2.GenerateVerifier()
	b := stack.NewBrowser(t, "http://127.0.0.1:1")
	back := o.logIn(t, b, conf.AuthCodeURL("other-state", oauth2.S256ChallengeOption(verifier)))
	if got := back.Query().Get("state"); got != "other-state" {
		t.Fatalf("the provider sent %s to the other app; want its state", back)
	}
	tok, err := conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("the other app's code exchange: %v", err)
	}
	return tok
}

// serviceToken is an access token of the example's service user, from the
// client-credentials grant.
func (o *exampleOP) serviceToken(t *testing.T) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status := o.post(t, o.discovery.Token, serviceClient, serviceSecret, form, &tok); status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("client-credentials grant for %s: status %d, no access token", serviceClient, status)
	}
	return tok.AccessToken
}

// introspection is the provider's RFC 7662 answer about a token.
type introspection struct {
	Active   bool   `json:"active"`
	ClientID string `json:"client_id"`
	Subject  string `json:"sub"`
}

// introspect asks the provider, as Portcullis's client, about token.
func (o *exampleOP) introspect(t *testing.T, token string) introspection {
	t.Helper()
	var got introspection
	if status := o.post(t, o.discovery.Introspection, portcullisClient, portcullisSecret, url.Values{"token": {token}}, &got); status != http.StatusOK {
		t.Fatalf("introspection: status %d", status)
	}
	return got
}

// refreshWith spends refreshToken at the token endpoint as Portcullis's
// client and returns the status and the OAuth2 error code.
func (o *exampleOP) refreshWith(t *testing.T, refreshToken string) (int, string) {
	t.Helper()
	var answer struct {
		Error string `json:"error"`
	}
	status := o.post(t, o.discovery.Token, portcullisClient, portcullisSecret,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, &answer)
	return status, answer.Error
}

// post sends form to endpoint with HTTP Basic client authentication and
// decodes the JSON answer into v; it returns the status.
func (o *exampleOP) post(t *testing.T, endpoint, client, secret string, form url.Values, v any) int {
	t.Helper()
	req, err := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(body, v); err != nil && resp.StatusCode == http.StatusOK {
		t.Fatalf("POST %s: %v: %.300s", endpoint, err, body)
	}
	return resp.StatusCode
}
