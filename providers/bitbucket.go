package providers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultBitbucketMaxPages bounds the pages of e-mail addresses read.
const DefaultBitbucketMaxPages = 10

// Bitbucket is the bitbucket preset's provider (Bitbucket Cloud): the
// generic OAuth2 provider, whose code flow, refresh and revocation it
// keeps, with an Identify that completes the /2.0/user answer, which has
// no e-mail address, with USERINFO_URL + "/emails"
// (developer.atlassian.com/cloud/bitbucket/rest, "List email addresses
// for current user"): the address marked is_primary is the e-mail, with
// is_confirmed as its flag, so an unconfirmed primary address is refused
// by the usual e-mail trust rule. Without the consumer's Email permission
// the list answers 403 and the user has no address; that is not a
// sign-in failure.
//
// The list is paginated: its "next" URL is followed on USERINFO_URL's
// scheme and host only, so the token never leaves for another host, up to
// DefaultBitbucketMaxPages pages. Answers are size-limited like the
// generic provider's.
type Bitbucket struct {
	*OAuth2
	base *url.URL // USERINFO_URL without query
}

var (
	_ Provider  = (*Bitbucket)(nil)
	_ Refresher = (*Bitbucket)(nil)
	_ Revoker   = (*Bitbucket)(nil)
)

// NewBitbucket returns the Bitbucket provider for cfg, normally the
// bitbucket preset applied to the operator's settings (Build). It does no
// I/O.
func NewBitbucket(cfg Config) (*Bitbucket, error) {
	if cfg.ID == "" {
		cfg.ID = "bitbucket"
	}
	o, err := NewOAuth2(cfg)
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(trimURLQuery(o.cfg.UserinfoURL)) // validated by NewOAuth2
	base.Path = strings.TrimRight(base.Path, "/")
	return &Bitbucket{OAuth2: o, base: base}, nil
}

// Identify reads /user as the generic provider does, then the e-mail
// addresses, as the Bitbucket type describes.
func (b *Bitbucket) Identify(ctx context.Context, t *Tokens) (*Identity, error) {
	id, err := b.OAuth2.Identify(ctx, t)
	if err != nil {
		return nil, err
	}
	emails, err := b.emails(ctx, t)
	switch {
	case err != nil:
		return nil, err
	case emails == nil:
		return id, nil
	}
	id.Email, id.EmailVerified = "", nil
	for _, e := range emails {
		if primary, _ := e["is_primary"].(bool); !primary {
			continue
		}
		s, _ := stringValue(e["email"])
		if s = cleanValue(s); s == "" {
			continue
		}
		confirmed, _ := e["is_confirmed"].(bool)
		id.Email = b.cfg.Claims.value("email", s)
		id.EmailVerified = &confirmed
		break
	}
	return id, nil
}

// emails reads the paginated list at USERINFO_URL + "/emails". It returns
// nil, nil when Bitbucket refuses it for want of the Email permission
// (403) or has none (404).
func (b *Bitbucket) emails(ctx context.Context, t *Tokens) ([]map[string]any, error) {
	u := *b.base
	u.Path += "/emails"
	next := u.String()
	out := []map[string]any{}
	for page := 0; next != "" && page < DefaultBitbucketMaxPages; page++ {
		doc, err := b.page(ctx, t, next)
		if err != nil || doc == nil {
			if page == 0 {
				return nil, err
			}
			return out, err
		}
		values, _ := doc["values"].([]any)
		for _, v := range values {
			if m, ok := v.(map[string]any); ok {
				out = append(out, m)
			}
		}
		next = b.sameHost(doc["next"])
	}
	return out, nil
}

// page GETs one page of a list; a nil doc and no error mean the list is
// unavailable to this token.
func (b *Bitbucket) page(ctx context.Context, t *Tokens, target string) (map[string]any, error) {
	o := b.OAuth2
	fail := func(kind ErrorKind, status int, desc string) *Error {
		if desc != "" {
			desc = "/emails: " + desc
		}
		return &Error{Provider: o.id, Endpoint: "userinfo", Kind: kind, Status: status, Description: desc}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fail(ErrBadResponse, 0, "cannot build the request")
	}
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, networkError(fail(ErrTransient, 0, ""), err)
	}
	body, err := readLimited(resp.Body, o.cfg.MaxResponseBytes)
	resp.Body.Close()
	if err != nil {
		return nil, networkError(fail(ErrTransient, 0, ""), err)
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusForbidden || status == http.StatusNotFound:
		return nil, nil
	case status < 200 || status > 299:
		return nil, extraCallError(fail(ErrRejected, status, ""), body)
	case int64(len(body)) > o.cfg.MaxResponseBytes:
		return nil, fail(ErrBadResponse, status, fmt.Sprintf("response larger than %d bytes refused", o.cfg.MaxResponseBytes))
	}
	doc, err := decodeJSONObject(body)
	if err != nil {
		return nil, fail(ErrBadResponse, status, "response is not a JSON object")
	}
	return doc, nil
}

// sameHost returns a page's next URL when it is on USERINFO_URL's scheme
// and host; "" otherwise, or when there is none.
func (b *Bitbucket) sameHost(next any) string {
	s, _ := next.(string)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != b.base.Scheme || u.Host != b.base.Host {
		return ""
	}
	return u.String()
}
