package providers

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decode parses JSON the way the provider does, with UseNumber.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	doc, err := decodeJSONObject([]byte(s))
	if err != nil {
		t.Fatalf("decode(%q): %v", s, err)
	}
	return doc
}

func TestLookup(t *testing.T) {
	t.Parallel()
	doc := decode(t, `{
		"sub": "u1",
		"org": {"department": "R&D", "team": {"name": "core"}},
		"emails": [{"value": "a@example.com"}, {"value": "b@example.com"}],
		"https://slack.com/team_id": "T0R7GR",
		"a.b": {"c": "dotted-then-nested"},
		"a": {"b": {"c": "nested", "d": "only-nested"}},
		"x": {"y.z": {"w": "dot inside"}},
		"list": [[1, 2], [3]],
		"nothing": null,
		"": {"": "empty keys"}
	}`)
	tests := []struct {
		path   string
		want   any
		wantOK bool
	}{
		{"sub", "u1", true},
		{"org.department", "R&D", true},
		{"org.team.name", "core", true},
		{"emails.0.value", "a@example.com", true},
		{"emails.1.value", "b@example.com", true},
		{"emails.2.value", nil, false},
		{"emails.-1.value", nil, false},
		{"emails.+1.value", nil, false},
		{"emails.x", nil, false},
		{"https://slack.com/team_id", "T0R7GR", true},
		{"a.b.c", "dotted-then-nested", true}, // the longest key wins
		{"x.y.z.w", "dot inside", true},
		{"list.0.1", json.Number("2"), true},
		{"list.1.0", json.Number("3"), true},
		{"nothing", nil, true},
		{"sub.more", nil, false},
		{"missing", nil, false},
		{"", nil, false},
		{".", "empty keys", true},
		{"org", map[string]any{"department": "R&D", "team": map[string]any{"name": "core"}}, true},
	}
	for _, tc := range tests {
		got, ok := Lookup(doc, tc.path)
		if ok != tc.wantOK || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(doc, %q) = %#v, %v; want %#v, %v", tc.path, got, ok, tc.want, tc.wantOK)
		}
	}
}

// TestLookupManyKeys takes the branch that scans keys rather than runs.
func TestLookupManyKeys(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"a": map[string]any{"b": "ab"}, "a.b": "a.b"}
	for _, tc := range []struct{ path, want string }{
		{"a.b", "a.b"},
		{"a.b.c.d.e", ""},
	} {
		got, _ := Lookup(doc, tc.path)
		if s, _ := got.(string); s != tc.want {
			t.Errorf("Lookup(doc, %q) = %#v; want %q", tc.path, got, tc.want)
		}
	}
}

func TestNumberText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"583231", "583231"},
		{"5.83231e5", "583231"},
		{"5.83231E+5", "583231"},
		{"2.02593498e+08", "202593498"},
		{"9007199254740993", "9007199254740993"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"-42", "-42"},
		{"-0", "0"},
		{"0", "0"},
		{"1.0", "1"},
		{"12.5", "12.5"},
		{"1.5e-1", "0.15"},
		{"1e3", "1000"},
		{"0.000", "0"},
		{"1e100000", "1e100000"}, // too large to expand: kept as sent
		{"abc", "abc"},
		{"1.e5", "1.e5"},
	}
	for _, tc := range tests {
		if got := numberText(tc.in); got != tc.want {
			t.Errorf("numberText(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestCleanValueAndText: a value is passed on exactly as the provider sent
// it, or not at all (cleanValue: never cleaned into another value); display
// text (names, messages) may lose its control characters (cleanText).
func TestCleanValueAndText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, value, text string }{
		{"plain", "plain", "plain"},
		{"Domain Admins", "Domain Admins", "Domain Admins"},
		{"caf\xc3\xa9", "café", "café"},
		{"ünïcode ✓", "ünïcode ✓", "ünïcode ✓"},
		{"admins\x00", "", "admins"},
		{"\tadmins", "", "admins"},
		{"admins ", "", "admins"},
		{" admins", "", "admins"},
		{"admins\u00a0", "", "admins"}, // no-break space
		{"Jane\r\nX-Admin: true", "", "JaneX-Admin: true"},
		{"nul\x00tab\tdel\x7f", "", "nultabdel"},
		{"bad\xffutf8", "", "bad\uFFFDutf8"},
		{" Jane Doe\n", "", "Jane Doe"},
		{"", "", ""},
	}
	for _, tc := range tests {
		if got := cleanValue(tc.in); got != tc.value {
			t.Errorf("cleanValue(%q) = %q; want %q", tc.in, got, tc.value)
		}
		if got := cleanText(tc.in); got != tc.text {
			t.Errorf("cleanText(%q) = %q; want %q", tc.in, got, tc.text)
		}
	}
}

func TestClaimsWithDefaults(t *testing.T) {
	t.Parallel()
	got := Claims{ID: []string{"login"}}.WithDefaults()
	want := Claims{
		ID: []string{"login"}, Email: []string{"email"}, EmailVerified: []string{"email_verified"},
		Name: []string{"name"}, GivenName: []string{"given_name"}, FamilyName: []string{"family_name"},
		Username: []string{"preferred_username"}, Groups: []string{"groups"},
		Picture: []string{"picture"}, Locale: []string{"locale"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WithDefaults() = %+v; want %+v", got, want)
	}
	if got := (Claims{}).WithDefaults().ID; !reflect.DeepEqual(got, []string{"sub", "id"}) {
		t.Errorf("WithDefaults().ID = %q; want [sub id]", got)
	}
}

func TestClaimsMap(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []mapTest{{
		name:   "OIDC standard claims",
		claims: Claims{},
		doc: `{"sub":"1101694844743862","name":"Jane Doe","given_name":"Jane","family_name":"Doe",
			"picture":"https://lh3.example/a","email":"jane@example.com","email_verified":true,
			"locale":"en","preferred_username":"jane","groups":["eng","ops"]}`,
		want: Identity{ID: "1101694844743862", Email: "jane@example.com", EmailVerified: &yes,
			Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe", Username: "jane",
			Picture: "https://lh3.example/a", Locale: "en", Groups: []string{"eng", "ops"}},
	}, {
		name:   "GitHub numeric id",
		claims: Claims{ID: []string{"id"}, Username: []string{"login"}, Picture: []string{"avatar_url"}},
		doc:    `{"login":"octocat","id":583231,"avatar_url":"https://avatars.example/u/583231","name":"The Octocat","email":null}`,
		want:   Identity{ID: "583231", Username: "octocat", Picture: "https://avatars.example/u/583231", Name: "The Octocat"},
	}, {
		name:   "id in exponent form",
		claims: Claims{ID: []string{"id"}},
		doc:    `{"id":5.83231e5}`,
		want:   Identity{ID: "583231"},
	}, {
		name:   "Mercado Libre id",
		claims: Claims{ID: []string{"id"}, Username: []string{"nickname"}},
		doc:    `{"id":202593498,"nickname":"TETE2870021"}`,
		want:   Identity{ID: "202593498", Username: "TETE2870021"},
	}, {
		name:   "int64 beyond 2^53 stays exact",
		claims: Claims{ID: []string{"id"}},
		doc:    `{"id":9007199254740993}`,
		want:   Identity{ID: "9007199254740993"},
	}, {
		name:   "fallback paths: the first non-empty wins",
		claims: Claims{ID: []string{"unionid", "openid"}, Name: []string{"nickname", "name"}},
		doc:    `{"unionid":"","openid":"OPENID","nickname":{"x":1},"name":"N"}`,
		want:   Identity{ID: "OPENID", Name: "N"},
	}, {
		name: "nested, array indexes, dotted keys",
		claims: Claims{
			ID: []string{"user.encodedId"}, Email: []string{"emails.0.value"},
			Picture:    []string{"picture.data.url"},
			Attributes: []Attribute{{Name: "Team", Paths: []string{"https://slack.com/team_id"}}},
		},
		doc: `{"user":{"encodedId":"GGNJL9"},"emails":[{"value":"a@example.com"}],
			"picture":{"data":{"url":"https://p.example/1"}},"https://slack.com/team_id":"T0R7GR"}`,
		want: Identity{ID: "GGNJL9", Email: "a@example.com", Picture: "https://p.example/1",
			Attributes: map[string]string{"Team": "T0R7GR"}},
	}, {
		name:   "objects ignored for string fields",
		claims: Claims{},
		doc:    `{"sub":"vaz8tJ1Aah","locale":{"country":"US","language":"en"}}`,
		want:   Identity{ID: "vaz8tJ1Aah"},
	}, {
		name:   "email_verified: the first flag present decides",
		claims: Claims{EmailVerified: []string{"xms_edov", "email_verified"}},
		doc:    `{"sub":"s","xms_edov":true,"email_verified":false}`,
		want:   Identity{ID: "s", EmailVerified: &yes},
	}, {
		name:   "email_verified as the string true",
		claims: Claims{},
		doc:    `{"sub":"s","email_verified":"true"}`,
		want:   Identity{ID: "s", EmailVerified: &yes},
	}, {
		name:   "email_verified false",
		claims: Claims{},
		doc:    `{"sub":"s","email_verified":"false"}`,
		want:   Identity{ID: "s", EmailVerified: &no},
	}, {
		name:   "email_verified absent",
		claims: Claims{},
		doc:    `{"sub":"s"}`,
		want:   Identity{ID: "s"},
	}, {
		name:   "groups as a comma string",
		claims: Claims{},
		doc:    `{"sub":"s","groups":" eng, ops ,,qa"}`,
		want:   Identity{ID: "s", Groups: []string{"eng", "ops", "qa"}},
	}, {
		name:   "groups array with numbers and objects",
		claims: Claims{},
		doc:    `{"sub":"s","groups":["/a",7,{"x":1},true,null,""]}`,
		want:   Identity{ID: "s", Groups: []string{"/a", "7", "true"}},
	}, {
		name:   "booleans and numbers as text",
		claims: Claims{Attributes: []Attribute{{Name: "Admin", Paths: []string{"admin"}}, {Name: "Amount", Paths: []string{"salaryAmount"}}}},
		doc:    `{"sub":"s","admin":true,"salaryAmount":1.25e3}`,
		want:   Identity{ID: "s", Attributes: map[string]string{"Admin": "true", "Amount": "1250"}},
	}, {
		name:   "control characters: display names cleaned, other values absent",
		claims: Claims{Attributes: []Attribute{{Name: "Role", Paths: []string{"role"}}}},
		doc: "{\"sub\":\"s\",\"name\":\"Eve\\r\\nX-User: admin\",\"given_name\":\"\\tEve\",\"email\":\"e\\u0000@x\\u007f.com\"," +
			"\"preferred_username\":\"admin\\u0000\",\"groups\":[\"a\\nb\",\"staff\"],\"role\":\"admin\\r\\n\",\"locale\":\"\xff\"}",
		want: Identity{ID: "s", Name: "EveX-User: admin", GivenName: "Eve", Groups: []string{"staff"}, Locale: "\uFFFD"},
	}, {
		name:   "a name joined from parts",
		claims: Claims{Name: []string{"first_name+last_name"}, GivenName: []string{"first_name"}, FamilyName: []string{"last_name"}},
		doc:    `{"id":1,"first_name":"Ana","last_name":"Pérez","nickname":"ANAP123"}`,
		want:   Identity{ID: "1", Name: "Ana Pérez", GivenName: "Ana", FamilyName: "Pérez"},
	}, {
		name:   "a name joined from the parts present",
		claims: Claims{Name: []string{"first_name+last_name"}},
		doc:    `{"id":1,"first_name":"Ana","last_name":null}`,
		want:   Identity{ID: "1", Name: "Ana"},
	}, {
		name:   "a key with a plus is read as it is",
		claims: Claims{Name: []string{"first+last"}},
		doc:    `{"id":1,"first+last":"Literal","first":"A","last":"B"}`,
		want:   Identity{ID: "1", Name: "Literal"},
	}, {
		name: "CLAIM_VALUES on fields and attributes",
		claims: Claims{
			Attributes: []Attribute{{Name: "Gender", Paths: []string{"gender"}}},
			Values: map[string]map[string]string{
				"gender": {"male": "M", "hombre": "M", "female": "F"},
				"groups": {"g-123": "admins"},
				"locale": {"es_AR": "es"},
			},
		},
		doc:  `{"sub":"s","gender":"hombre","groups":["g-123","g-456"],"locale":"es_AR"}`,
		want: Identity{ID: "s", Locale: "es", Groups: []string{"admins", "g-456"}, Attributes: map[string]string{"Gender": "M"}},
	}, {
		name: "CLAIM_VALUES passes unmapped values through",
		claims: Claims{
			Attributes: []Attribute{{Name: "Gender", Paths: []string{"gender"}}},
			Values:     map[string]map[string]string{"gender": {"male": "M"}},
		},
		doc:  `{"sub":"s","gender":"other"}`,
		want: Identity{ID: "s", Attributes: map[string]string{"Gender": "other"}},
	}}
	runMapTests(t, tests)
}

// mapTest is one case of Claims.Map: claims (with their defaults) map doc
// to want.
type mapTest struct {
	name   string
	claims Claims
	doc    string
	want   Identity
}

func runMapTests(t *testing.T, tests []mapTest) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.claims.WithDefaults().Map(decode(t, tc.doc))
			if err != nil {
				t.Fatalf("Map(%s) error: %v", tc.doc, err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("Map(%s) =\n%s\nwant\n%s", tc.doc, fmtIdentity(got), fmtIdentity(&tc.want))
			}
		})
	}
}

func fmtIdentity(id *Identity) string {
	b, _ := json.Marshal(id)
	return string(b)
}

func TestClaimsMapNoID(t *testing.T) {
	t.Parallel()
	claims := Claims{ID: []string{"unionid", "openid"}}.WithDefaults()
	_, err := claims.Map(decode(t, `{"nickname":"n","openid":""}`))
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), `CLAIM_ID "unionid,openid"`) {
		t.Errorf("Map without id = %v; want ErrBadResponse naming CLAIM_ID", err)
	}
}

// TestGroupsWithCommasDropped: X-User-Groups is comma-joined, so a group
// named "book-club,admins" would read upstream as membership of "admins".
func TestGroupsWithCommasDropped(t *testing.T) {
	t.Parallel()
	id, err := Claims{}.WithDefaults().Map(map[string]any{"sub": "1", "groups": []any{"book-club,admins", "staff"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Groups) != 1 || id.Groups[0] != "staff" {
		t.Errorf("Groups = %q; want [staff]", id.Groups)
	}
}

// TestClaimValuesNotCleaned: a value holding a control character (or
// white space at either end) is not cleaned into another one: it counts
// as absent. "admins\u0000", "\tadmins" and "admins " are not "admins".
func TestClaimValuesNotCleaned(t *testing.T) {
	t.Parallel()
	tests := []mapTest{{
		name: "groups dropped, not trimmed",
		doc:  `{"sub":"s","groups":["admins\u0000","\tadmins","admins "," admins","adm\r\nins","admins\u007f","staff"]}`,
		want: Identity{ID: "s", Groups: []string{"staff"}},
	}, {
		name: "no group left",
		doc:  `{"sub":"s","groups":["admins\u0000"]}`,
		want: Identity{ID: "s"},
	}, {
		name: "groups in a comma string: spaces around commas separate, control characters drop",
		doc:  `{"sub":"s","groups":"admins\u0000, \tadmins,staff"}`,
		want: Identity{ID: "s", Groups: []string{"staff"}},
	}, {
		name: "e-mail with NUL",
		doc:  `{"sub":"s","email":"alice@example.com\u0000"}`,
		want: Identity{ID: "s"},
	}, {
		name: "e-mail with CR LF",
		doc:  `{"sub":"s","email":"alice@example.com\r\nX-Admin: 1"}`,
		want: Identity{ID: "s"},
	}, {
		name: "e-mail with white space around it",
		doc:  `{"sub":"s","email":" alice@example.com"}`,
		want: Identity{ID: "s"},
	}, {
		name:   "an absent e-mail falls back to the next path",
		claims: Claims{Email: []string{"email", "mail"}},
		doc:    `{"sub":"s","email":"evil@example.com\n","mail":"alice@example.com"}`,
		want:   Identity{ID: "s", Email: "alice@example.com"},
	}, {
		name:   "attribute with a control character",
		claims: Claims{Attributes: []Attribute{{Name: "Role", Paths: []string{"role"}}}},
		doc:    `{"sub":"s","role":"admin\u0000"}`,
		want:   Identity{ID: "s"},
	}, {
		name:   "CLAIM_VALUES never sees a cleaned value",
		claims: Claims{Values: map[string]map[string]string{"groups": {"g-1": "admins"}}},
		doc:    `{"sub":"s","groups":["g-1\u0000","g-1 "]}`,
		want:   Identity{ID: "s"},
	}}
	runMapTests(t, tests)
}

// TestClaimsMapBadID: an id claim holding a control character fails the
// sign-in, naming the claim, rather than naming someone else.
func TestClaimsMapBadID(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"sub":"1001\u0000"}`,
		`{"sub":"10\r\n01"}`,
		`{"sub":" 1001"}`,
		`{"sub":"1001\t","id":"1001"}`, // not skipped for the next path
	} {
		id, err := Claims{}.WithDefaults().Map(decode(t, doc))
		if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), `"sub"`) || !strings.Contains(err.Error(), "control character") {
			t.Errorf("Map(%s) = %+v, %v; want ErrBadResponse naming the claim sub and the control character", doc, id, err)
		}
	}
}

// TestEmailVerifiedValues: only true and "true" mean verified; a flag
// present with any other value means unverified.
func TestEmailVerifiedValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag string
		want *bool
	}{
		{`true`, ptr(true)},
		{`"true"`, ptr(true)},
		{`false`, ptr(false)},
		{`"false"`, ptr(false)},
		{`"no"`, ptr(false)},
		{`""`, ptr(false)},
		{`[]`, ptr(false)},
		{`[true]`, ptr(false)},
		{`2`, ptr(false)},
		{`1`, ptr(false)},
		{`"1"`, ptr(false)},
		{`"TRUE"`, ptr(false)},
		{`" true"`, ptr(false)},
		{`{}`, ptr(false)},
		{`{"value":true}`, ptr(false)},
		{`null`, ptr(false)},
		{``, nil},
	} {
		doc := `{"sub":"s","email":"a@example.com"}`
		if tc.flag != "" {
			doc = `{"sub":"s","email":"a@example.com","email_verified":` + tc.flag + `}`
		}
		id, err := Claims{}.WithDefaults().Map(decode(t, doc))
		if err != nil {
			t.Fatalf("Map(%s): %v", doc, err)
		}
		if !reflect.DeepEqual(id.EmailVerified, tc.want) {
			t.Errorf("Map(%s).EmailVerified = %s; want %s", doc, fmtBool(id.EmailVerified), fmtBool(tc.want))
		}
	}
}

func ptr[T any](v T) *T { return &v }

func fmtBool(b *bool) string {
	if b == nil {
		return "nil (no flag)"
	}
	if *b {
		return "true"
	}
	return "false"
}
