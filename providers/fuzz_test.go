package providers

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzLookup(f *testing.F) {
	f.Add(`{"a":{"b":[{"c":1}]}}`, "a.b.0.c")
	f.Add(`{"https://slack.com/team_id":"T1","a.b":{"c":2},"a":{"b":{"c":3}}}`, "a.b.c")
	f.Add(`{"":{"":{"":1}}}`, "..")
	f.Add(`[1,[2,[3]]]`, "1.1.0")
	f.Add(`{"a":{"a":{"a.a":{"a":"x"}}},"a.a":{"a":1}}`, "a.a.a.a.a")
	f.Add(`"scalar"`, "x")
	f.Fuzz(func(t *testing.T, doc, path string) {
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			v = doc // a scalar that is not a document
		}
		got, ok := Lookup(v, path)
		if !ok && got != nil {
			t.Errorf("Lookup(%q, %q) = %#v, false; want nil with false", doc, path, got)
		}
		if path == "" && ok {
			t.Errorf("Lookup(%q, \"\") found %#v; want nothing", doc, got)
		}
	})
}

func FuzzClaimsMap(f *testing.F) {
	f.Add(`{"sub":"s","email":"e@x","email_verified":"1","groups":["a",1,{"b":2}],"org":{"dept":"d"}}`)
	f.Add(`{"id":5.83231e5,"name":"a\r\nb","groups":"x, y"}`)
	f.Add(`{"id":1e999,"locale":{"country":"US"},"groups":null}`)
	f.Add(`{"sub":"\u0000\u007f\ud800","picture":-0.0e-7}`)
	claims := Claims{
		EmailVerified: []string{"email_verified", "xms_edov"},
		Attributes:    []Attribute{{Name: "Dept", Paths: []string{"org.dept", "org.0"}}},
		Values:        map[string]map[string]string{"dept": {"d": "D"}, "groups": {"a": "A"}},
	}.WithDefaults()
	f.Fuzz(func(t *testing.T, data string) {
		dec := json.NewDecoder(strings.NewReader(data))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return
		}
		id, err := claims.Map(doc)
		if err != nil {
			if id != nil {
				t.Errorf("Map(%q) = %+v, %v; want nil with an error", data, id, err)
			}
			return
		}
		check := func(field, s string) {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Errorf("Map(%q).%s = %q: invalid UTF-8 or control characters", data, field, s)
			}
		}
		if id.ID == "" {
			t.Errorf("Map(%q) gave an empty ID and no error", data)
		}
		for field, s := range map[string]string{"ID": id.ID, "Email": id.Email, "Name": id.Name, "GivenName": id.GivenName,
			"FamilyName": id.FamilyName, "Username": id.Username, "Picture": id.Picture, "Locale": id.Locale} {
			check(field, s)
		}
		for _, g := range id.Groups {
			check("Groups", g)
		}
		for k, v := range id.Attributes {
			check("Attributes["+k+"]", v)
		}
	})
}
