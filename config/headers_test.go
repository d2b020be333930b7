package config

import (
	"slices"
	"strings"
	"testing"
)

func TestHeaderRules(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, with(minimal(),
		"PORTCULLIS_INJECT_HEADERS", " Remote-User=user, X-WEBAUTH-USER=Email ,Authorization=bearer:ID_TOKEN,X-Dept=attr.Dept,"+
			"X-Legacy=basic:username,X-Static=literal:On Behalf=Of:Us,X-All=groups",
		"PORTCULLIS_AUTH_RESPONSE_HEADERS", "X-Auth-Request-User=id,X-Id=basic:literal:svc",
		"PORTCULLIS_BASIC_AUTH_PASSWORD", "pw",
		"PORTCULLIS_CLAIM_ATTRIBUTES", "Dept=org.department",
		"PORTCULLIS_IDENTITY_HEADERS", "OFF",
	))
	wantInject := []HeaderRule{
		{"Remote-User", "user"}, {"X-WEBAUTH-USER", "email"}, {"Authorization", "bearer:id_token"}, {"X-Dept", "attr.Dept"},
		{"X-Legacy", "basic:username"}, {"X-Static", "literal:On Behalf=Of:Us"}, {"X-All", "groups"},
	}
	if !slices.Equal(c.InjectHeaders, wantInject) {
		t.Errorf("InjectHeaders = %v; want %v", c.InjectHeaders, wantInject)
	}
	if want := []HeaderRule{{"X-Auth-Request-User", "id"}, {"X-Id", "basic:literal:svc"}}; !slices.Equal(c.AuthResponseHeaders, want) {
		t.Errorf("AuthResponseHeaders = %v; want %v", c.AuthResponseHeaders, want)
	}
	if c.IdentityHeaders != "off" || c.BasicAuthPassword != "pw" {
		t.Errorf("IdentityHeaders %q, BasicAuthPassword %q; want off, pw", c.IdentityHeaders, c.BasicAuthPassword)
	}
	for _, tt := range []struct{ in, want string }{{"", "on"}, {"on", "on"}, {"true", "on"}, {"False", "off"}, {" off ", "off"}} {
		if got := mustLoad(t, with(minimal(), "PORTCULLIS_IDENTITY_HEADERS", tt.in)).IdentityHeaders; got != tt.want {
			t.Errorf("IDENTITY_HEADERS=%q: %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestHeaderRuleFiles: the _FILE twin of a header list holds one rule a
// line, and BASIC_AUTH_PASSWORD_FILE the password.
func TestHeaderRuleFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := mustLoad(t, with(minimal(),
		"PORTCULLIS_INJECT_HEADERS_FILE", writeFile(t, dir, "inject", "# for the legacy app\nRemote-User=user\n\nAuthorization=basic:user\n"),
		"PORTCULLIS_BASIC_AUTH_PASSWORD_FILE", writeFile(t, dir, "pw", "s3cret\n"),
	))
	if want := []HeaderRule{{"Remote-User", "user"}, {"Authorization", "basic:user"}}; !slices.Equal(c.InjectHeaders, want) || c.BasicAuthPassword != "s3cret" {
		t.Errorf("InjectHeaders %v, password %q; want %v, s3cret", c.InjectHeaders, c.BasicAuthPassword, want)
	}
}

// TestHeaderRuleProblems: every problem of the header variables is
// listed, each naming its variable, along with the others'.
func TestHeaderRuleProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unknown source, with another problem", with(minimal(), "PORTCULLIS_INJECT_HEADERS", "Remote-User=nickname", "PORTCULLIS_COOKIE_EXPIRE", "0s"), []string{
			"PORTCULLIS_COOKIE_EXPIRE: must be greater than 0, got 0s",
			`PORTCULLIS_INJECT_HEADERS: Remote-User: unknown source "nickname"; want ` + HeaderSources,
		}},
		{"every entry's problem", with(minimal(), "PORTCULLIS_INJECT_HEADERS", "Remote-User,=user,X_User=user,X-A=,Host=user,X-B=bearer:email,X-C=literal:,X-D=attr.,X-E=basic:bearer:id_token,X-F=basic:nope"), []string{
			`PORTCULLIS_INJECT_HEADERS: entry 1 must be Name=source`,
			`PORTCULLIS_INJECT_HEADERS: entry 2 must be Name=source`,
			`PORTCULLIS_INJECT_HEADERS: "X_User" is not a header name Portcullis sets: use letters, digits and '-', starting with a letter, at most 64 characters`,
			`PORTCULLIS_INJECT_HEADERS: entry 4 ("X-A=…") must be Name=source`,
			`PORTCULLIS_INJECT_HEADERS: Host can't be set: it describes the request itself`,
			`PORTCULLIS_INJECT_HEADERS: X-B: bearer: takes access_token or id_token, got "email"`,
			`PORTCULLIS_INJECT_HEADERS: X-C: literal: needs a text, without control characters`,
			`PORTCULLIS_INJECT_HEADERS: X-D: "attr." names no attribute: want attr. and a CLAIM_ATTRIBUTES name`,
			`PORTCULLIS_INJECT_HEADERS: X-E: basic: takes a source without bearer: or basic:, got bearer:…`,
			`PORTCULLIS_INJECT_HEADERS: X-F: basic:unknown source "nope"; want ` + HeaderSources,
		}},
		{"reserved names", with(minimal(), "PORTCULLIS_AUTH_RESPONSE_HEADERS", "Connection=user,content-length=user,Cookie=user,X-Forwarded-For=user,X-Original-URL=user,X-Request-Id=user,Proxy-Authorization=user"), []string{
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: Connection can't be set: it is a hop-by-hop header, which proxies remove",
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: content-length can't be set: it describes the request itself",
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: Cookie can't be set: Portcullis's cookies are its own, and the app's are the browser's",
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: X-Forwarded-For can't be set: it describes the connection, which Portcullis tells the app as it received it",
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: X-Original-URL can't be set: it describes the connection, which Portcullis tells the app as it received it",
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: X-Request-Id can't be set: Portcullis sets it",
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: Proxy-Authorization can't be set: it is a hop-by-hop header, which proxies remove",
		}},
		{"twice, in any case", with(minimal(), "PORTCULLIS_INJECT_HEADERS", "Remote-User=user,remote-user=email"), []string{
			"PORTCULLIS_INJECT_HEADERS: remote-user is listed twice",
		}},
		{"too long", with(minimal(), "PORTCULLIS_INJECT_HEADERS", "X-"+strings.Repeat("a", 63)+"=user"), []string{
			`PORTCULLIS_INJECT_HEADERS: "X-` + strings.Repeat("a", 63) + `" is not a header name Portcullis sets: use letters, digits and '-', starting with a letter, at most 64 characters`,
		}},
		{"basic without a password", with(minimal(), "PORTCULLIS_INJECT_HEADERS", "Authorization=basic:user", "PORTCULLIS_AUTH_RESPONSE_HEADERS", "X-Basic=basic:email"), []string{
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: X-Basic=basic:email needs PORTCULLIS_BASIC_AUTH_PASSWORD (or its _FILE twin)",
			"PORTCULLIS_INJECT_HEADERS: Authorization=basic:user needs PORTCULLIS_BASIC_AUTH_PASSWORD (or its _FILE twin)",
		}},
		{"unknown attribute", with(minimal(), "PORTCULLIS_CLAIM_ATTRIBUTES", "Dept=org.department", "PORTCULLIS_INJECT_HEADERS", "X-Dept=attr.dept,X-Cost=attr.Cost"), []string{
			`PORTCULLIS_INJECT_HEADERS: X-Dept=attr.dept: no provider's CLAIM_ATTRIBUTES names "dept"`,
			`PORTCULLIS_INJECT_HEADERS: X-Cost=attr.Cost: no provider's CLAIM_ATTRIBUTES names "Cost"`,
		}},
		{"Authorization twice", with(minimal(), "PORTCULLIS_SET_AUTHORIZATION", "true", "PORTCULLIS_INJECT_HEADERS", "Authorization=bearer:id_token"), []string{
			"PORTCULLIS_INJECT_HEADERS: Authorization is PORTCULLIS_SET_AUTHORIZATION's already (true): set one or the other",
		}},
		{"identity headers", with(minimal(), "PORTCULLIS_IDENTITY_HEADERS", "none"), []string{
			`PORTCULLIS_IDENTITY_HEADERS: must be on or off, got "none"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(getenv(tt.env))
			if got := lines(err); !slices.Equal(got, tt.want) {
				t.Errorf("Load() problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestHeaderRuleProblemsHideTexts: a mistyped rule's text may be a secret
// (a literal: with "=" or "," where ":" was meant, a static token written
// after bearer:, a literal: forgotten): no problem quotes it, yet each
// still names the variable and the rule.
func TestHeaderRuleProblemsHideTexts(t *testing.T) {
	t.Parallel()
	const secret = "S3cr3tT0ken"
	tests := []struct{ rules, want string }{
		{"X-Api-Key:literal:" + secret, `PORTCULLIS_INJECT_HEADERS: entry 1 ("X-Api-Key:…") must be Name=source`},
		{"X-Api-Key=literal:ab," + secret, `PORTCULLIS_INJECT_HEADERS: entry 2 must be Name=source`},
		{"=literal:" + secret, `PORTCULLIS_INJECT_HEADERS: entry 1 must be Name=source`},
		{"X-Api-Key=" + secret, `PORTCULLIS_INJECT_HEADERS: X-Api-Key: unknown source (not shown: it may be a secret); want ` + HeaderSources},
		{"X-Api-Key=literl:" + secret, `PORTCULLIS_INJECT_HEADERS: X-Api-Key: unknown source (not shown: it may be a secret); want ` + HeaderSources},
		{"Authorization=bearer:" + secret, `PORTCULLIS_INJECT_HEADERS: Authorization: bearer: takes access_token or id_token (bearer:TEXT is no literal: write literal:Bearer TEXT)`},
		{"Authorization=basic:" + secret, `PORTCULLIS_INJECT_HEADERS: Authorization: basic:unknown source (not shown: it may be a secret); want ` + HeaderSources},
	}
	for _, tt := range tests {
		_, err := Load(getenv(with(minimal(), "PORTCULLIS_INJECT_HEADERS", tt.rules, "PORTCULLIS_BASIC_AUTH_PASSWORD", "pw")))
		got := lines(err)
		if err != nil && strings.Contains(err.Error(), secret[:6]) {
			t.Errorf("INJECT_HEADERS=%s: the problem shows the text: %v", tt.rules, got)
		}
		if !slices.Contains(got, tt.want) {
			t.Errorf("INJECT_HEADERS=%s: problems %q; want %q among them", tt.rules, got, tt.want)
		}
	}
	// A well-formed rule's problem shows its literal: text redacted.
	_, err := Load(getenv(with(minimal(), "PORTCULLIS_AUTH_RESPONSE_HEADERS", "X-Id=basic:literal:"+secret)))
	want := "PORTCULLIS_AUTH_RESPONSE_HEADERS: X-Id=basic:literal:[redacted] needs PORTCULLIS_BASIC_AUTH_PASSWORD (or its _FILE twin)"
	if got := lines(err); !slices.Equal(got, []string{want}) {
		t.Errorf("basic:literal: without a password: problems %q; want %q", got, want)
	}
}

// TestHeaderRuleSettings: check shows the rules, a literal's text (often
// a shared secret) and the Basic password hidden.
func TestHeaderRuleSettings(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, with(minimal(),
		"PORTCULLIS_INJECT_HEADERS", "Remote-User=user,X-Api-Key=literal:k3y-s3cret,X-Id=basic:literal:svc-s3cret",
		"PORTCULLIS_BASIC_AUTH_PASSWORD", "pw-s3cret",
	))
	got := map[string]string{}
	for _, s := range c.Settings() {
		if strings.Contains(s.Value, "s3cret") {
			t.Errorf("Settings() %s = %q shows a secret", s.Name, s.Value)
		}
		got[s.Name] = s.Value
	}
	for name, want := range map[string]string{
		"PORTCULLIS_INJECT_HEADERS":        "Remote-User=user,X-Api-Key=literal:[redacted],X-Id=basic:literal:[redacted]",
		"PORTCULLIS_AUTH_RESPONSE_HEADERS": "",
		"PORTCULLIS_IDENTITY_HEADERS":      "on",
		"PORTCULLIS_BASIC_AUTH_PASSWORD":   "[redacted]",
	} {
		if got[name] != want {
			t.Errorf("Settings() %s = %q; want %q", name, got[name], want)
		}
	}
}

func TestBasicAuthPasswordUnusedWarns(t *testing.T) {
	t.Parallel()
	warned := func(env map[string]string) bool {
		for _, w := range mustLoad(t, env).Warnings() {
			if strings.HasPrefix(w, "PORTCULLIS_BASIC_AUTH_PASSWORD: ") {
				return true
			}
		}
		return false
	}
	if !warned(with(minimal(), "PORTCULLIS_BASIC_AUTH_PASSWORD", "pw")) {
		t.Error("an unused BASIC_AUTH_PASSWORD gives no warning")
	}
	if warned(with(minimal(), "PORTCULLIS_BASIC_AUTH_PASSWORD", "pw", "PORTCULLIS_AUTH_RESPONSE_HEADERS", "Authorization=basic:user")) {
		t.Error("a used BASIC_AUTH_PASSWORD gives a warning")
	}
}

// FuzzHeaderRules: whatever the value, parsing never panics, and each rule
// it accepts has a name Portcullis may set and reads back as written.
func FuzzHeaderRules(f *testing.F) {
	for _, seed := range []string{
		"Remote-User=user,X-WEBAUTH-USER=email,Authorization=bearer:id_token", "X=basic:literal:a=b:c", "X=attr.Dept",
		"Host=user", "X_User=user", "=", ",,,", "X=literal:\x00", "X=BASIC:USER", "x=basic:basic:user", "\xff=user",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseHeaderRules(v)
		rules := got.([]HeaderRule)
		for _, r := range rules {
			if checkHeaderName(r.Name) != nil {
				t.Fatalf("parseHeaderRules(%q) accepted the name %q", v, r.Name)
			}
			if _, err := headerSource(r.Source); err != nil {
				t.Fatalf("parseHeaderRules(%q) accepted the source %q: %v", v, r.Source, err)
			}
		}
		if err == nil {
			again, err := parseHeaderRules(joinStrings(rules))
			if err != nil || !slices.Equal(again.([]HeaderRule), rules) {
				t.Fatalf("parseHeaderRules(%q) = %v, which reads back as %v, %v", v, rules, again, err)
			}
		}
	})
}
