package providers

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// gitHubTestToken is the access token the fake API accepts.
const gitHubTestToken = "gho_TestToken0123456789"

// gitHubAPI is a fake GitHub REST API under prefix (""; GitHub Enterprise
// Server: "/api/v3"). Each list answers from its handler; /user answers the
// fixture unless user is set.
type gitHubAPI struct {
	t      *testing.T
	prefix string
	user   string // /user body; "" means testdata/github/user.json
	lists  map[string]http.HandlerFunc

	mu    sync.Mutex
	paths []string // requests seen, path and query
}

func (a *gitHubAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.paths = append(a.paths, r.URL.RequestURI())
	a.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+gitHubTestToken {
		answerJSON(w, http.StatusUnauthorized, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" || r.Header.Get("User-Agent") == "" {
		a.t.Errorf("%s: headers %v; want GitHub's API headers", r.URL.Path, r.Header)
	}
	path, ok := strings.CutPrefix(r.URL.Path, a.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if path == "/user" {
		body := a.user
		if body == "" {
			body = presetFixture(a.t, "github", "user.json")
		}
		answerJSON(w, http.StatusOK, body)
		return
	}
	if h, ok := a.lists[path]; ok {
		h(w, r)
		return
	}
	answerJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
}

func (a *gitHubAPI) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.paths)
}

func gitHubFile(t *testing.T, file string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, presetFixture(t, "github", file))
	}
}

// newGitHubOn builds the github preset's provider with USERINFO_URL on srv.
func newGitHubOn(t *testing.T, srv *httptest.Server, prefix string, opts GitHubOptions, edit func(*Config)) *GitHub {
	t.Helper()
	r, err := Resolve(Settings{Preset: "github", ClientID: testClientID, ClientSecret: testClientSecret, UserinfoURL: srv.URL + prefix + "/user"})
	if err != nil {
		t.Fatalf("Resolve(github): %v", err)
	}
	cfg := r.config()
	cfg.HTTPClient = srv.Client()
	if edit != nil {
		edit(&cfg)
	}
	g, err := NewGitHub(cfg, opts)
	if err != nil {
		t.Fatalf("NewGitHub: %v", err)
	}
	return g
}

func TestGitHubIdentify(t *testing.T) {
	t.Parallel()
	forbidden := func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusForbidden, `{"message":"Resource not accessible by integration"}`)
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
	}
	publicEmail := strings.Replace(presetFixture(t, "github", "user.json"), `"email": null`, `"email": "octocat@github.com"`, 1)
	tests := []struct {
		name   string
		prefix string
		user   string
		lists  map[string]http.HandlerFunc
		opts   GitHubOptions
		want   Identity
		calls  []string // paths called, in order
	}{
		{
			name: "everything",
			lists: map[string]http.HandlerFunc{
				"/user/emails": gitHubFile(t, "emails.json"),
				"/user/orgs":   gitHubFile(t, "orgs.json"),
				"/user/teams":  gitHubFile(t, "teams.json"),
			},
			opts: GitHubOptions{Teams: true},
			want: Identity{ID: "583231", Email: "octocat@github.com", EmailVerified: presetBool(true), Name: "The Octocat", Username: "octocat",
				Picture: "https://avatars.githubusercontent.com/u/583231", Groups: []string{"github", "github:justice-league"}},
			calls: []string{"/user", "/user/emails?per_page=100", "/user/orgs?per_page=100", "/user/teams?per_page=100"},
		},
		{
			name:   "GitHub Enterprise Server base URL",
			prefix: "/api/v3",
			lists: map[string]http.HandlerFunc{
				"/user/emails": gitHubFile(t, "emails.json"),
				"/user/orgs":   gitHubFile(t, "orgs.json"),
			},
			want: Identity{ID: "583231", Email: "octocat@github.com", EmailVerified: presetBool(true), Name: "The Octocat", Username: "octocat",
				Picture: "https://avatars.githubusercontent.com/u/583231", Groups: []string{"github"}},
			calls: []string{"/api/v3/user", "/api/v3/user/emails?per_page=100", "/api/v3/user/orgs?per_page=100"},
		},
		{
			// Without read:org: 403 on orgs and teams is no groups, not a failure.
			name: "no read:org",
			lists: map[string]http.HandlerFunc{
				"/user/emails": gitHubFile(t, "emails.json"),
				"/user/orgs":   forbidden,
				"/user/teams":  forbidden,
			},
			opts: GitHubOptions{Teams: true},
			want: Identity{ID: "583231", Email: "octocat@github.com", EmailVerified: presetBool(true), Name: "The Octocat", Username: "octocat",
				Picture: "https://avatars.githubusercontent.com/u/583231"},
		},
		{
			// Without user:email: /user's public address, with no flag.
			name:  "no user:email",
			user:  publicEmail,
			lists: map[string]http.HandlerFunc{"/user/emails": notFound, "/user/orgs": gitHubFile(t, "orgs.json")},
			want: Identity{ID: "583231", Email: "octocat@github.com", Name: "The Octocat", Username: "octocat",
				Picture: "https://avatars.githubusercontent.com/u/583231", Groups: []string{"github"}},
		},
		{
			// The primary address is not verified: it comes flagged false,
			// whatever /user shows, and a verified secondary is not used.
			name: "primary unverified",
			user: publicEmail,
			lists: map[string]http.HandlerFunc{
				"/user/emails": func(w http.ResponseWriter, r *http.Request) {
					answerJSON(w, http.StatusOK, `[{"email":"new@example.com","primary":true,"verified":false,"visibility":"private"},{"email":"octocat@github.com","primary":false,"verified":true,"visibility":"public"}]`)
				},
			},
			want: Identity{ID: "583231", Email: "new@example.com", EmailVerified: presetBool(false), Name: "The Octocat", Username: "octocat",
				Picture: "https://avatars.githubusercontent.com/u/583231"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &gitHubAPI{t: t, prefix: tc.prefix, user: tc.user, lists: tc.lists}
			srv := serve(t, api)
			g := newGitHubOn(t, srv, tc.prefix, tc.opts, nil)
			id, err := g.Identify(t.Context(), &Tokens{AccessToken: gitHubTestToken})
			if err != nil {
				t.Fatalf("Identify: %v", err)
			}
			checkPresetIdentity(t, id, tc.want)
			if tc.calls != nil && !reflect.DeepEqual(api.seen(), tc.calls) {
				t.Errorf("calls = %q; want %q", api.seen(), tc.calls)
			}
		})
	}
}

func TestGitHubPagination(t *testing.T) {
	t.Parallel()
	var other atomic.Int32
	elsewhere := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		answerJSON(w, http.StatusOK, `[{"login":"stolen"}]`)
	}))
	var srv *httptest.Server
	endless := func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		if page == "" {
			page = "1"
		}
		var n int
		fmt.Sscan(page, &n)
		w.Header().Set("Link", fmt.Sprintf(`<%s/user/orgs?per_page=100&page=%d>; rel="next"`, srv.URL, n+1))
		answerJSON(w, http.StatusOK, fmt.Sprintf(`[{"login":"org-%d"}]`, n))
	}
	foreign := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/user/teams?page=2>; rel="next"`, elsewhere.URL))
		answerJSON(w, http.StatusOK, presetFixture(t, "github", "teams.json"))
	}
	api := &gitHubAPI{t: t, lists: map[string]http.HandlerFunc{
		"/user/emails": gitHubFile(t, "emails.json"),
		"/user/orgs":   endless,
		"/user/teams":  foreign,
	}}
	srv = serve(t, api)
	g := newGitHubOn(t, srv, "", GitHubOptions{Teams: true, MaxPages: 3}, nil)
	id, err := g.Identify(t.Context(), &Tokens{AccessToken: gitHubTestToken})
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	if want := []string{"org-1", "org-2", "org-3", "github:justice-league"}; !reflect.DeepEqual(id.Groups, want) {
		t.Errorf("Groups = %q; want %q (three pages, then stop)", id.Groups, want)
	}
	if n := other.Load(); n != 0 {
		t.Errorf("a next page on another host was fetched %d times; the token must stay on the API host", n)
	}
}

func TestGitHubIdentifyErrors(t *testing.T) {
	t.Parallel()
	big := "[" + strings.Repeat(`{"login":"x"},`, 200) + `{"login":"x"}]`
	tests := []struct {
		name   string
		token  string
		lists  map[string]http.HandlerFunc
		limit  int64
		want   ErrorKind
		substr string
	}{
		{name: "bad token", token: "other", want: ErrRejected, substr: "401"},
		{
			name:  "rate limited",
			token: gitHubTestToken,
			lists: map[string]http.HandlerFunc{"/user/emails": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-RateLimit-Remaining", "0")
				answerJSON(w, http.StatusForbidden, `{"message":"API rate limit exceeded"}`)
			}},
			want:   ErrTransient,
			substr: "rate limited",
		},
		{
			name:  "server error",
			token: gitHubTestToken,
			lists: map[string]http.HandlerFunc{
				"/user/emails": gitHubFile(t, "emails.json"),
				"/user/orgs": func(w http.ResponseWriter, r *http.Request) {
					answerJSON(w, http.StatusBadGateway, `{"message":"Server Error"}`)
				},
			},
			want: ErrTransient,
		},
		{
			name:  "not an array",
			token: gitHubTestToken,
			lists: map[string]http.HandlerFunc{"/user/emails": func(w http.ResponseWriter, r *http.Request) {
				answerJSON(w, http.StatusOK, `{"email":"x"}`)
			}},
			want:   ErrBadResponse,
			substr: "not an array",
		},
		{
			name:  "too large",
			token: gitHubTestToken,
			lists: map[string]http.HandlerFunc{
				"/user/emails": gitHubFile(t, "emails.json"),
				"/user/orgs": func(w http.ResponseWriter, r *http.Request) {
					answerJSON(w, http.StatusOK, big)
				},
			},
			limit:  2000,
			want:   ErrBadResponse,
			substr: "larger than 2000 bytes",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, &gitHubAPI{t: t, lists: tc.lists})
			g := newGitHubOn(t, srv, "", GitHubOptions{}, func(c *Config) { c.MaxResponseBytes = tc.limit })
			id, err := g.Identify(t.Context(), &Tokens{AccessToken: tc.token})
			if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.substr) {
				t.Fatalf("Identify = %+v, %v; want %v containing %q", id, err, tc.want, tc.substr)
			}
			if strings.Contains(err.Error(), gitHubTestToken) {
				t.Errorf("error %q reveals the token", err)
			}
		})
	}
}

// TestGitHubGroupValues: CLAIM_VALUES apply to groups from the lists too.
func TestGitHubGroupValues(t *testing.T) {
	t.Parallel()
	srv := serve(t, &gitHubAPI{t: t, lists: map[string]http.HandlerFunc{
		"/user/emails": gitHubFile(t, "emails.json"),
		"/user/orgs":   gitHubFile(t, "orgs.json"),
	}})
	g := newGitHubOn(t, srv, "", GitHubOptions{}, func(c *Config) {
		c.Claims.Values = map[string]map[string]string{"groups": {"github": "staff"}}
	})
	id, err := g.Identify(t.Context(), &Tokens{AccessToken: gitHubTestToken})
	if err != nil || !reflect.DeepEqual(id.Groups, []string{"staff"}) {
		t.Errorf("Identify = %+v, %v; want Groups [staff]", id, err)
	}
}

// TestGitHubTokenHeaders: token requests keep Accept: application/json (so
// GitHub answers JSON), and get none of the REST API headers.
func TestGitHubTokenHeaders(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" || r.Header.Get("X-GitHub-Api-Version") != "" {
			t.Errorf("token request headers %v", r.Header)
		}
		// GitHub's answer without Accept: application/json.
		answer(w, http.StatusOK, "application/x-www-form-urlencoded", "access_token=gho_x&scope=read%3Auser&token_type=bearer")
	}))
	g := newGitHubOn(t, srv, "", GitHubOptions{}, func(c *Config) { c.TokenURL = srv.URL + "/login/oauth/access_token" })
	tok, err := g.Exchange(t.Context(), "code")
	if err != nil || tok.AccessToken != "gho_x" {
		t.Errorf("Exchange = %+v, %v; want gho_x", tok, err)
	}
}
