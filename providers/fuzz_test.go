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
	f.Add(`{"sub":"s","groups":["admins\u0000","\tadmins","admins ","a"],"email":"a@x.com\r\n","preferred_username":" u"}`)
	f.Add(`{"sub":"s","groups":"d\u0000, a ,\td","org":{"dept":"d\u007f"},"email":"e@x","mail":"m@x"}`)
	f.Add(`{"sub":"s\n","id":"i"}`)
	claims := Claims{
		Email:         []string{"email", "mail"},
		EmailVerified: []string{"email_verified", "xms_edov"},
		Attributes:    []Attribute{{Name: "Dept", Paths: []string{"org.dept", "org.0"}}},
		Values:        map[string]map[string]string{"dept": {"d": "D"}, "groups": {"a": "A"}},
	}.WithDefaults()
	outputs := map[string]bool{"D": true, "A": true} // the CLAIM_VALUES outputs
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
		// sent holds every scalar of doc as text: what a value may be,
		// byte for byte.
		sent := map[string]bool{}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for _, e := range v {
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			default:
				if s, ok := stringValue(v); ok {
					sent[s] = true
				}
			}
		}
		walk(doc)
		clean := func(s string) bool {
			return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
		}
		// Values are passed on as sent (or mapped), never cleaned into others.
		asSent := func(field, s string) {
			if s == "" {
				return
			}
			if !clean(s) || s != strings.TrimSpace(s) {
				t.Errorf("Map(%q).%s = %q: control characters or white space at an end", data, field, s)
			}
			if !sent[s] && !outputs[s] {
				t.Errorf("Map(%q).%s = %q: not a value the provider sent", data, field, s)
			}
		}
		if id.ID == "" {
			t.Errorf("Map(%q) gave an empty ID and no error", data)
		}
		for field, s := range map[string]string{"ID": id.ID, "Email": id.Email, "Username": id.Username,
			"Picture": id.Picture, "Locale": id.Locale} {
			asSent(field, s)
		}
		if s, ok := doc["groups"].(string); ok { // a comma list: its entries
			for part := range strings.SplitSeq(s, ",") {
				sent[strings.Trim(part, " ")] = true
			}
		}
		for _, g := range id.Groups {
			asSent("Groups", g)
		}
		for k, v := range id.Attributes {
			asSent("Attributes["+k+"]", v)
		}
		// Display names may be cleaned, but come out clean.
		for field, s := range map[string]string{"Name": id.Name, "GivenName": id.GivenName, "FamilyName": id.FamilyName} {
			if !clean(s) {
				t.Errorf("Map(%q).%s = %q: invalid UTF-8 or control characters", data, field, s)
			}
		}
		// Only true and "true" verify an address.
		if id.EmailVerified != nil && *id.EmailVerified {
			verified := false
			for _, p := range claims.EmailVerified {
				if v, ok := Lookup(doc, p); ok {
					verified = v == true || v == "true"
					break
				}
			}
			if !verified {
				t.Errorf("Map(%q).EmailVerified = true; want false", data)
			}
		}
	})
}
