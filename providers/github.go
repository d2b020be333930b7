package providers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// GitHub API request headers (docs.github.com, "Getting started with the
// REST API").
const (
	gitHubAccept     = "application/vnd.github+json"
	gitHubAPIVersion = "2022-11-28"
)

// DefaultGitHubMaxPages bounds the pages read of each GitHub list.
const DefaultGitHubMaxPages = 10

// GitHubOptions are the GitHub provider's own settings.
type GitHubOptions struct {
	// Teams adds the user's teams to the groups, as "org-login:team-slug".
	Teams bool
	// MaxPages bounds the pages of 100 read from each list (e-mail
	// addresses, organisations, teams); 0 means DefaultGitHubMaxPages.
	// Entries past the bound are left out.
	MaxPages int
}

// GitHub is the github preset's provider: the generic OAuth2 provider for
// the code flow, and an Identify that completes GitHub's /user answer with
// the calls the SPEC names, all below USERINFO_URL:
//
//   - USERINFO_URL + "/emails": the primary address, when verified, is the
//     e-mail, with EmailVerified true (/user shows only a public address,
//     often none). A primary address that is not verified is returned with
//     EmailVerified false, so the usual e-mail trust rule refuses it.
//     Without the user:email scope the list is unavailable and /user's
//     address, if any, comes without a flag.
//   - USERINFO_URL + "/orgs": each organisation's login is a group.
//   - USERINFO_URL + "/teams" (with GitHubOptions.Teams): each team is a
//     group "org-login:team-slug".
//
// Organisations and teams need the read:org scope: without it, or when an
// organisation restricts OAuth Apps, GitHub answers 403 or 404 or leaves
// organisations out, and the user simply has fewer groups; that is not a
// sign-in failure. Lists are read 100 at a time, following the Link
// header's next page on the same host, up to MaxPages pages.
//
// Every call sends Accept: application/vnd.github+json, the
// X-GitHub-Api-Version header and a User-Agent, and answers are size-limited
// like the generic provider's. The numeric id is kept exact.
type GitHub struct {
	oauth    *OAuth2
	base     *url.URL // USERINFO_URL without query
	teams    bool
	maxPages int
}

var (
	_ Provider  = (*GitHub)(nil)
	_ Refresher = (*GitHub)(nil)
	_ Revoker   = (*GitHub)(nil)
)

// NewGitHub returns the GitHub provider for cfg, which is normally the
// github preset applied to the operator's settings (Build). It does no
// I/O.
func NewGitHub(cfg Config, opts GitHubOptions) (*GitHub, error) {
	if cfg.ID == "" {
		cfg.ID = "github"
	}
	cfg = withDefaults(cfg) // the HTTP client
	client := *cfg.HTTPClient
	client.Transport = &gitHubHeaders{base: baseTransport(cfg.HTTPClient), api: strings.TrimRight(trimURLQuery(cfg.UserinfoURL), "/")}
	cfg.HTTPClient = &client
	o, err := NewOAuth2(cfg)
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(trimURLQuery(o.cfg.UserinfoURL)) // validated by NewOAuth2
	base.Path = strings.TrimRight(base.Path, "/")
	g := &GitHub{oauth: o, base: base, teams: opts.Teams, maxPages: opts.MaxPages}
	if g.maxPages <= 0 {
		g.maxPages = DefaultGitHubMaxPages
	}
	return g, nil
}

// bearerDefaults are the settings a validator of GitHub's tokens takes
// from it: the generic provider's (BearerConfig.Provider).
func (g *GitHub) bearerDefaults() BearerConfig { return g.oauth.bearerDefaults() }

// trimURLQuery returns a URL without its query and fragment.
func trimURLQuery(s string) string {
	s, _, _ = strings.Cut(s, "#")
	s, _, _ = strings.Cut(s, "?")
	return s
}

// AuthCodeURL returns GitHub's authorization URL (see OAuth2.AuthCodeURL).
func (g *GitHub) AuthCodeURL(state string, opts ...oauth2.AuthCodeOption) string {
	return g.oauth.AuthCodeURL(state, opts...)
}

// Exchange trades the code for tokens (see OAuth2.Exchange). GitHub answers
// a bad code with status 200 and bad_verification_code: ErrDeadGrant.
func (g *GitHub) Exchange(ctx context.Context, code string, opts ...oauth2.AuthCodeOption) (*Tokens, error) {
	return g.oauth.Exchange(ctx, code, opts...)
}

// Refresh renews tokens (see OAuth2.Refresh). Only GitHub Apps with
// expiring user tokens issue refresh tokens; they are single use.
func (g *GitHub) Refresh(ctx context.Context, t *Tokens) (*Tokens, error) {
	return g.oauth.Refresh(ctx, t)
}

// Revoke revokes at REVOKE_URL when one is set (see OAuth2.Revoke). The
// preset sets none: GitHub's revocation is not RFC 7009.
func (g *GitHub) Revoke(ctx context.Context, token, hint string) error {
	return g.oauth.Revoke(ctx, token, hint)
}

// Identify reads /user, then the e-mail addresses, organisations and
// (optionally) teams, as the GitHub type describes.
func (g *GitHub) Identify(ctx context.Context, t *Tokens) (*Identity, error) {
	doc, err := g.oauth.Userinfo(ctx, t)
	if err != nil {
		return nil, err
	}
	claims := g.oauth.cfg.Claims
	id, err := claims.read(doc)
	if err != nil {
		return nil, withEndpoint(err, g.oauth.id, "userinfo")
	}
	if id.ID == "" {
		e := claims.noIDError()
		e.Provider, e.Endpoint = g.oauth.id, "userinfo"
		return nil, e
	}

	emails, err := g.list(ctx, t, "/emails")
	if err != nil {
		return nil, err
	}
	if emails != nil {
		id.Email, id.EmailVerified = "", nil
		var verified bool
		for _, e := range emails {
			if b, _ := e["primary"].(bool); !b {
				continue
			}
			s, _ := stringValue(e["email"])
			if s = cleanValue(s); s == "" {
				continue
			}
			verified, _ = e["verified"].(bool)
			id.Email = claims.value("email", s)
			id.EmailVerified = &verified
			break
		}
	}

	var groups []string
	add := func(s string) {
		if g := claims.group(s); g != "" {
			groups = append(groups, g)
		}
	}
	orgs, err := g.list(ctx, t, "/orgs")
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		login, _ := stringValue(o["login"])
		add(login)
	}
	if g.teams {
		teams, err := g.list(ctx, t, "/teams")
		if err != nil {
			return nil, err
		}
		for _, tm := range teams {
			org, _ := Lookup(tm, "organization.login")
			login, _ := stringValue(org)
			slug, _ := stringValue(tm["slug"])
			if login != "" && slug != "" {
				add(login + ":" + slug)
			}
		}
	}
	if len(groups) > 0 {
		id.Groups = groups
	}
	return id, nil
}

// list reads a paginated list below USERINFO_URL. It returns nil, nil when
// GitHub refuses the list for want of a scope or an organisation's consent
// (403 that is not a rate limit, 404).
func (g *GitHub) list(ctx context.Context, t *Tokens, suffix string) ([]map[string]any, error) {
	u := *g.base
	u.Path += suffix
	u.RawQuery = url.Values{"per_page": {"100"}}.Encode()
	next := u.String()
	out := []map[string]any{}
	for page := 0; next != "" && page < g.maxPages; page++ {
		items, link, err := g.page(ctx, t, next, suffix)
		if err != nil {
			return nil, err
		}
		if items == nil {
			if page == 0 {
				return nil, nil
			}
			break
		}
		out = append(out, items...)
		next = g.nextPage(link)
	}
	return out, nil
}

// page GETs one page and returns its objects and Link header; nil items
// and no error mean the list is unavailable to this token.
func (g *GitHub) page(ctx context.Context, t *Tokens, target, list string) ([]map[string]any, string, error) {
	o := g.oauth
	fail := func(kind ErrorKind, status int, desc string) *Error {
		if desc != "" {
			desc = list + ": " + desc
		}
		return &Error{Provider: o.id, Endpoint: "userinfo", Kind: kind, Status: status, Description: desc}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, "", fail(ErrBadResponse, 0, "cannot build the request")
	}
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, "", networkError(fail(ErrTransient, 0, ""), err)
	}
	body, err := readLimited(resp.Body, o.cfg.MaxResponseBytes)
	resp.Body.Close()
	if err != nil {
		return nil, "", networkError(fail(ErrTransient, 0, ""), err)
	}
	status := resp.StatusCode
	rateLimited := status == http.StatusTooManyRequests ||
		(status == http.StatusForbidden && (resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""))
	switch {
	case rateLimited:
		return nil, "", fail(ErrTransient, status, "rate limited")
	case status == http.StatusForbidden || status == http.StatusNotFound:
		return nil, "", nil
	case status < 200 || status > 299:
		return nil, "", extraCallError(fail(ErrRejected, status, ""), body)
	case int64(len(body)) > o.cfg.MaxResponseBytes:
		return nil, "", fail(ErrBadResponse, status, fmt.Sprintf("response larger than %d bytes refused", o.cfg.MaxResponseBytes))
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, "", fail(ErrBadResponse, status, "response is not JSON: "+cleanDescription(err.Error()))
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, "", fail(ErrBadResponse, status, fmt.Sprintf("response is a JSON %s, not an array", jsonKind(v)))
	}
	items := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			items = append(items, m)
		}
	}
	return items, resp.Header.Get("Link"), nil
}

// nextPage returns the rel="next" URL of a Link header when it is on the
// same scheme and host as USERINFO_URL, so the token never leaves for
// another host; "" otherwise.
func (g *GitHub) nextPage(link string) string {
	for part := range strings.SplitSeq(link, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		isNext := false
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && slices.ContainsFunc(strings.Fields(strings.Trim(v, `"`)), isNextRel) {
				isNext = true
			}
		}
		if !isNext {
			continue
		}
		u, err := url.Parse(target[1 : len(target)-1])
		if err != nil || u.Scheme != g.base.Scheme || u.Host != g.base.Host {
			return ""
		}
		return u.String()
	}
	return ""
}

func isNextRel(rel string) bool { return strings.EqualFold(rel, "next") }

// gitHubHeaders sets GitHub's REST API headers on the requests to
// USERINFO_URL and below it; token requests (on github.com, or elsewhere)
// keep the generic provider's Accept: application/json, which is what makes
// GitHub's token endpoint answer JSON.
type gitHubHeaders struct {
	base http.RoundTripper
	api  string // USERINFO_URL without query or trailing slash
}

func (h *gitHubHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	s := u.String()
	if h.api != "" && (s == h.api || strings.HasPrefix(s, h.api+"/")) {
		req = req.Clone(req.Context())
		req.Header.Set("Accept", gitHubAccept)
		req.Header.Set("X-GitHub-Api-Version", gitHubAPIVersion)
		req.Header.Set("User-Agent", userAgent)
	}
	return h.base.RoundTrip(req)
}
