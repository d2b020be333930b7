package session

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testclock"
)

var (
	secretA = []byte("secret A: thirty-two bytes or more, for tests only")
	secretB = []byte("secret B: thirty-two bytes or more, for tests only")
	// t0 is the tests' "now"; whole seconds, as the encoding keeps them.
	t0 = time.Date(2030, time.May, 1, 12, 0, 0, 0, time.UTC)
)

// testOptions returns the tests' store options: secretA, a 168h expiry and
// the clock (unless nil), after applying mods.
func testOptions(clk *testclock.Clock, mods ...func(*Options)) Options {
	opts := Options{
		Secrets:  [][]byte{secretA},
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
		Expire:   168 * time.Hour,
	}
	if clk != nil {
		opts.Now = clk.Now
	}
	for _, m := range mods {
		m(&opts)
	}
	return opts
}

// newStore returns a store with testOptions.
func newStore(t testing.TB, clk *testclock.Clock, mods ...func(*Options)) *CookieStore {
	t.Helper()
	c, err := NewCookieStore(testOptions(clk, mods...))
	if err != nil {
		t.Fatalf("NewCookieStore: %v", err)
	}
	return c
}

// newFlows returns the sign-in flows with testOptions.
func newFlows(t testing.TB, clk *testclock.Clock, mods ...func(*Options)) *Flows {
	t.Helper()
	f, err := NewFlows(testOptions(clk, mods...))
	if err != nil {
		t.Fatalf("NewFlows: %v", err)
	}
	return f
}

func withSecrets(s ...[]byte) func(*Options) {
	return func(o *Options) { o.Secrets = s }
}

// token returns an n-byte string of base64url characters, like a JWT.
func token(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[(i*7+i/64)%len(alphabet)]
	}
	return string(b)
}

// sampleState is a realistic session signed in at createdAt, with an access
// token of tokenLen bytes.
func sampleState(createdAt time.Time, tokenLen int) *State {
	return &State{
		Provider:     "corp",
		UserID:       "248289761001",
		User:         "jane",
		Email:        "jane.doe@example.com",
		Name:         "Jane Doe",
		GivenName:    "Jane",
		FamilyName:   "Doe",
		Username:     "jane",
		Groups:       []string{"admins", "engineering", "on-call"},
		Attributes:   map[string]string{"Dept": "R&D", "Amount": "1200", "Locale": "fr-CA"},
		AccessToken:  token(tokenLen),
		RefreshToken: token(100),
		IDToken:      token(600),
		Expiry:       createdAt.Add(time.Hour),
		CreatedAt:    createdAt,
	}
}

// A jar is a browser's cookies for one site: it takes Set-Cookie headers
// and sends the cookies back.
type jar map[string]string

// update applies rec's Set-Cookie headers and returns the cookies set.
func (j jar) update(rec *httptest.ResponseRecorder) []*http.Cookie {
	cookies := rec.Result().Cookies()
	for _, ck := range cookies {
		if ck.MaxAge < 0 {
			delete(j, ck.Name)
		} else {
			j[ck.Name] = ck.Value
		}
	}
	return cookies
}

// request returns a request carrying the jar's cookies, in name order.
func (j jar) request() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	for _, name := range j.names() {
		r.AddCookie(&http.Cookie{Name: name, Value: j[name]})
	}
	return r
}

func (j jar) names() []string {
	var names []string
	for name := range j {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// save runs st.Save for s against the jar's cookies and applies the
// result.
func (j jar) save(t *testing.T, st sessionStore, s *State) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := st.Save(rec, j.request(), s); err != nil {
		t.Fatalf("Save: %v", err)
	}
	j.update(rec)
	return rec
}

// saveFlow runs fl.Save for f against the jar's cookies and applies the
// result.
func (j jar) saveFlow(t *testing.T, fl *Flows, f *Flow) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := fl.Save(rec, j.request(), f); err != nil {
		t.Fatalf("Save(%q): %v", f.State, err)
	}
	j.update(rec)
	return rec
}

// setCookieLines returns rec's Set-Cookie header lines as sent.
func setCookieLines(rec *httptest.ResponseRecorder) []string {
	var lines []string
	for _, v := range rec.Header().Values("Set-Cookie") {
		lines = append(lines, "Set-Cookie: "+v)
	}
	return lines
}

// cookieNamed returns the cookie called name among cookies, or nil.
func cookieNamed(cookies []*http.Cookie, name string) *http.Cookie {
	for _, ck := range cookies {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// flip returns s with the byte at i replaced by a different base64url
// character.
func flip(s string, i int) string {
	// Flip the top bit of the base64 digit: the low bits of a final digit
	// may be padding that decoders ignore, so "A"→"B" there can change
	// nothing at all.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	c := byte('A')
	if k := strings.IndexByte(alphabet, s[i]); k >= 0 {
		c = alphabet[k^32]
	}
	return s[:i] + string(c) + s[i+1:]
}

// wantErrorLike fails unless err's text contains every one of parts.
func wantErrorLike(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error = %q; want it to mention %q", err, p)
		}
	}
}
