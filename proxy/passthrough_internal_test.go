package proxy

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/providers"
)

// FuzzPassthrough holds passthrough and withParams to their promise for
// any start query: only listed names reach the authorization URL, with
// the first value, never longer than maxPassthroughValue, and the URL's
// own parameters are the provider's.
func FuzzPassthrough(f *testing.F) {
	f.Add("login_hint=a%40b&prompt=login&prompt=none&client_id=evil", "https://idp.example/authorize?client_id=app&state=s#frag")
	f.Add("Login_Hint=x&login_hint=&ui_locales=de", "https://idp.example/authorize?prompt=consent")
	f.Add("login_hint="+strings.Repeat("a", maxPassthroughValue+1), "https://idp.example/a")
	names := []string{"login_hint", "prompt", "ui_locales"}
	f.Fuzz(func(t *testing.T, rawQuery, authURL string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		pass, bad := passthrough(q, names)
		if bad != "" {
			if pass != nil || len(q[bad][0]) <= maxPassthroughValue {
				t.Fatalf("passthrough(%q) refused %q wrongly: %v", rawQuery, bad, pass)
			}
			return
		}
		for k, v := range pass {
			if !slices.Contains(names, k) || len(v) != 1 || v[0] != q[k][0] || v[0] == "" || len(v[0]) > maxPassthroughValue {
				t.Fatalf("passthrough(%q) = %v: %s=%q is not a listed name's first value", rawQuery, pass, k, v)
			}
			if providers.ProtectedAuthParam(k, "") {
				t.Fatalf("passthrough(%q) forwards the protected %s", rawQuery, k)
			}
		}
		u, err := url.Parse(authURL)
		if err != nil {
			return
		}
		out := withParams(authURL, pass)
		v, err := url.Parse(out)
		if err != nil {
			t.Fatalf("withParams(%q) = %q, which does not parse: %v", authURL, out, err)
		}
		before, after := u.Query(), v.Query()
		for k := range after {
			if _, ok := pass[k]; !ok && strings.Join(after[k], ",") != strings.Join(before[k], ",") {
				t.Fatalf("withParams(%q, %v) changed %s: %q → %q", authURL, pass, k, before[k], after[k])
			}
		}
		if len(pass) > 0 && v.Fragment != u.Fragment {
			t.Fatalf("withParams(%q) lost the fragment: %q", authURL, out)
		}
	})
}
