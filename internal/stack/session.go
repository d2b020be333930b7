package stack

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/session"
)

// CookieOptions are the session cookie's options in every stack:
// CookieName, CookieSecret, path /, SameSite=Lax, an hour's life.
func CookieOptions() session.Options {
	return session.Options{
		Name:     CookieName,
		Secrets:  [][]byte{[]byte(CookieSecret)},
		Path:     "/",
		SameSite: http.SameSiteLaxMode,
		Expire:   time.Hour,
	}
}

// NewCookieStore returns the cookie store opts describe, failing t when
// they are not valid.
func NewCookieStore(t testing.TB, opts session.Options) *session.CookieStore {
	t.Helper()
	s, err := session.NewCookieStore(opts)
	if err != nil {
		t.Fatalf("session.NewCookieStore: %v", err)
	}
	return s
}

// NewFlows returns the sign-in flows' cookie opts describe, failing t when
// they are not valid.
func NewFlows(t testing.TB, opts session.Options) *session.Flows {
	t.Helper()
	f, err := session.NewFlows(opts)
	if err != nil {
		t.Fatalf("session.NewFlows: %v", err)
	}
	return f
}

// Alice is alice's session as the development provider describes her
// (idp.DemoUsers), signed in at now with ProviderID, as USER_FROM=auto
// names her (her verified address), with an access token of tokenSize
// bytes (a JWT from a real provider is about 1 KB) valid for an hour, and
// a refresh token.
func Alice(now time.Time, tokenSize int) *session.State {
	u := idp.DemoUsers()[0]
	return &session.State{
		Provider:     ProviderID,
		UserID:       fmt.Sprint(u.ID),
		User:         u.Email,
		Email:        u.Email,
		Name:         u.Name,
		GivenName:    u.GivenName,
		FamilyName:   u.FamilyName,
		Username:     u.Username,
		Groups:       u.Groups,
		AccessToken:  strings.Repeat("a", tokenSize),
		RefreshToken: strings.Repeat("r", 40),
		Expiry:       now.Add(time.Hour),
		CreatedAt:    now,
	}
}

// A Saver writes a session into a response, as both session stores do.
type Saver interface {
	Save(w http.ResponseWriter, r *http.Request, st *session.State) error
}

// Seal returns the cookies store sets to save st: a browser that sends
// them back is signed in.
func Seal(t testing.TB, store Saver, st *session.State) []*http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := store.Save(rec, httptest.NewRequest("GET", "/", nil), st); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return rec.Result().Cookies()
}

// CookieHeader is the Cookie header that sends cookies: name=value; ….
func CookieHeader(cookies []*http.Cookie) string {
	parts := make([]string, len(cookies))
	for i, c := range cookies {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// SessionCookies returns the cookies resp sets that hold a session: not
// the sign-in's CSRF cookie, not a deletion.
func SessionCookies(resp *http.Response) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, CookieName) && c.Name != CookieName+"_csrf" && c.MaxAge >= 0 && c.Value != "" {
			out = append(out, c)
		}
	}
	return out
}
