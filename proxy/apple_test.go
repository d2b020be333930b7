package proxy_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
)

// namedInForm is a provider that, like Apple, sends the user's name in
// the callback's POST form: the fake's flow with a real
// providers.CallbackUserReader (an OIDC provider set up as the apple preset
// sets it) reading the form. The form reaches the callback as a POST
// (here the implicit flow's relay, which takes the same path to
// finishSignIn as a form_post answer).
type namedInForm struct {
	providers.Provider
	reader providers.CallbackUserReader
}

func (n namedInForm) CallbackUser(f url.Values, id *providers.Identity) bool {
	return n.reader.CallbackUser(f, id)
}

// appleSignIn is a registry-backed stack whose provider reads Apple's
// user field; each call signs in a new browser, with user as the form's
// field when not empty, and returns what the app got.
func appleSignIn(t *testing.T) func(user string) stack.Echo {
	t.Helper()
	c := testclock.Wall()
	reader, err := providers.NewOIDC(providers.OIDCConfig{Config: providers.Config{ClientID: "c", ClientSecret: "s"},
		IssuerURL: "https://appleid.apple.com", UserInCallback: true})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := extraProvider(t, "apple", idp.User{ID: "001234.abc", Username: "jane", Email: "x7k2@privaterelay.appleid.com"},
		func(o *idp.Options, pc *providers.Config) {
			pc.ResponseType = "token"
			o.ExpiresIn = time.Hour
		})
	implicitCheck(t, &p)
	p.Provider = namedInForm{Provider: p.Provider, reader: reader}
	h, _ := registryHarness(t, c, true, func(o *proxy.Options) { o.Providers = []proxy.Provider{p} })

	return func(user string) stack.Echo {
		t.Helper()
		b := h.browser()
		frag := implicitFragment(t, b)
		if user != "" {
			frag.Set("user", user)
		}
		resp := postFragment(b, frag)
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback = %d; want 303", resp.StatusCode)
		}
		b.Header = http.Header{"Accept": {"application/json"}}
		return stack.DecodeEcho(t, b.Get("/implicit"))
	}
}

// TestCallbackUserName: the name in the first sign-in's form reaches the
// session (X-User-Name…), and with a registry the next sign-in, whose
// form has none, gets it from the registry.
func TestCallbackUserName(t *testing.T) {
	t.Parallel()
	signIn := appleSignIn(t)
	first := signIn(`{"name":{"firstName":"Jane","lastName":"Appleseed"},"email":"x7k2@privaterelay.appleid.com"}`)
	for k, want := range map[string]string{"X-User-Name": "Jane Appleseed", "X-User-Given-Name": "Jane", "X-User-Family-Name": "Appleseed"} {
		if got := first.Headers.Get(k); got != want {
			t.Errorf("first sign-in: the app got %s %q; want %q", k, got, want)
		}
	}
	later := signIn("")
	if got := later.Headers.Get("X-User-Name"); got != "Jane Appleseed" {
		t.Errorf("later sign-in without the form's name: X-User-Name %q; want the registry's Jane Appleseed", got)
	}
}

// TestCallbackUserNameOnlyFirst: Apple sends the user field on the first
// sign-in only, so a later one carrying it is the user editing their own
// POST: once the registry holds a name, the form's is ignored, in the
// session and in the registry.
func TestCallbackUserNameOnlyFirst(t *testing.T) {
	t.Parallel()
	signIn := appleSignIn(t)
	signIn(`{"name":{"firstName":"Jane","lastName":"Appleseed"}}`)
	want := map[string]string{"X-User-Name": "Jane Appleseed", "X-User-Given-Name": "Jane", "X-User-Family-Name": "Appleseed"}
	for i, user := range []string{
		`{"name":{"firstName":"Admin","lastName":"Root"}}`,
		"", // the registry still has the first name, not the forged one
	} {
		got := signIn(user)
		for k, w := range want {
			if g := got.Headers.Get(k); g != w {
				t.Errorf("sign-in %d (user %q): the app got %s %q; want %q", i+2, user, k, g, w)
			}
		}
	}
}
