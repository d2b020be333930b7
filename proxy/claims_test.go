package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// TestHostileClaimValues signs in through the fake provider sending each
// of its hostile claim sets: a value holding a control character (or white
// space at either end) is never cleaned into the allowed one.
func TestHostileClaimValues(t *testing.T) {
	t.Parallel()
	rules := map[string]func(*proxy.Options){
		"ALLOWED_GROUPS=admins":             func(o *proxy.Options) { o.Access.Rules.Groups = []string{"admins"} },
		"ALLOWED_EMAIL_DOMAINS=example.com": func(o *proxy.Options) { o.Access.Rules.Domains = []string{"example.com"} },
		"ALLOWED_EMAILS=alice@example.com":  func(o *proxy.Options) { o.Access.Rules.Emails = []string{"alice@example.com"} },
		"no rules":                          nil,
	}
	groups, domains, emails := "ALLOWED_GROUPS=admins", "ALLOWED_EMAIL_DOMAINS=example.com", "ALLOWED_EMAILS=alice@example.com"
	tests := []struct {
		hostile    string
		proxy      string // a key of rules; "": none
		wantStatus int
		wantText   string            // on the page, for refusals
		wantHeader map[string]string // upstream headers, for admissions ("" = absent)
	}{
		{hostile: "group-nul", proxy: groups, wantStatus: 403, wantText: "not a member"},
		{hostile: "group-tab", proxy: groups, wantStatus: 403, wantText: "not a member"},
		{hostile: "group-space", proxy: groups, wantStatus: 403, wantText: "not a member"},
		{hostile: "group-crlf", proxy: groups, wantStatus: 403, wantText: "not a member"},
		{hostile: "group-comma", proxy: groups, wantStatus: 403, wantText: "not a member"},
		{hostile: "group-string-nul", proxy: groups, wantStatus: 403, wantText: "not a member"},
		{hostile: "group-nul", wantStatus: 200, wantHeader: map[string]string{"X-User-Groups": "", "X-Forwarded-Groups": ""}},
		{hostile: "group-string-nul", wantStatus: 200, wantHeader: map[string]string{"X-User-Groups": "staff"}},
		{hostile: "email-nul", proxy: domains, wantStatus: 403, wantText: "no usable e-mail"},
		{hostile: "email-crlf", proxy: domains, wantStatus: 403, wantText: "no usable e-mail"},
		{hostile: "email-space", proxy: domains, wantStatus: 403, wantText: "no usable e-mail"},
		{hostile: "email-nul", proxy: emails, wantStatus: 403, wantText: "no usable e-mail"},
		{hostile: "email-crlf", wantStatus: 200, wantHeader: map[string]string{"X-Email": "", "X-Forwarded-Email": ""}},
		{hostile: "id-nul", wantStatus: 502, wantText: "CLAIM_ID"},
		{hostile: "id-crlf", wantStatus: 502, wantText: "control character"},
		{hostile: "username-nul", wantStatus: 200, wantHeader: map[string]string{"X-Forwarded-Preferred-Username": ""}},
		{hostile: "name-crlf", wantStatus: 200, wantHeader: map[string]string{"X-User-Name": "AliceX-User: admin"}},
		// Only true and "true" verify an address: any other flag is "not verified".
		{hostile: "verified-no", wantStatus: 403, wantText: "not verified"},
		{hostile: "verified-empty", wantStatus: 403, wantText: "not verified"},
		{hostile: "verified-array", wantStatus: 403, wantText: "not verified"},
		{hostile: "verified-2", wantStatus: 403, wantText: "not verified"},
		{hostile: "verified-1", wantStatus: 403, wantText: "not verified"},
		{hostile: "verified-object", wantStatus: 403, wantText: "not verified"},
		{hostile: "verified-null", wantStatus: 403, wantText: "not verified"},
		{hostile: "verified-false-string", wantStatus: 403, wantText: "not verified"},
	}
	for _, tt := range tests {
		if tt.proxy == "" {
			tt.proxy = "no rules"
		}
		t.Run(tt.hostile+" "+tt.proxy, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{idp: func(o *idp.Options) { o.Hostile = tt.hostile }, proxy: rules[tt.proxy]})
			b := h.browser()
			resp, hops := b.Follow("/", nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("sign-in ended with %d after %v; want %d: %s", resp.StatusCode, hops, tt.wantStatus, stack.ReadBody(t, resp))
			}
			if tt.wantStatus != http.StatusOK {
				if body := stack.ReadBody(t, resp); !strings.Contains(body, tt.wantText) {
					t.Errorf("page lacks %q:\n%s", tt.wantText, body)
				}
				if _, ok := b.Cookies["_portcullis"]; ok {
					t.Errorf("session cookie set on a refused sign-in")
				}
				return
			}
			e := stack.DecodeEcho(t, resp)
			for k, want := range tt.wantHeader {
				if got := e.Headers.Get(k); got != want {
					t.Errorf("upstream %s = %q; want %q", k, got, want)
				}
			}
		})
	}
}
