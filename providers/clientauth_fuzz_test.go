package providers

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzReadClientKey: any file content either gives a key that signs, of
// an accepted type, or an error; never a panic.
func FuzzReadClientKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ecOnly := range []bool{false, true} {
			k, err := readClientKey("key.pem", "", ecOnly, func(string) ([]byte, error) { return data, nil })
			if err != nil {
				continue
			}
			if k.alg != "ES256" && (ecOnly || k.alg != "RS256") {
				t.Fatalf("readClientKey accepted a key for %s (ecOnly %v)", k.alg, ecOnly)
			}
			if k.kid == "" {
				t.Fatal("no kid")
			}
		}
	})
}

// FuzzCallbackUser: whatever the form's user field holds, the names taken
// are clean text, a name already known is never replaced, and nothing but
// a configured provider reads it.
func FuzzCallbackUser(f *testing.F) {
	f.Add(`{"name":{"firstName":"Jane","lastName":"Appleseed"},"email":"j@example.com"}`, "")
	f.Add(`{"name":{"firstName":"\u0000"}}`, "Known")
	f.Add(`{"name":"flat"}`, "")
	f.Add(strings.Repeat("a", 5000), "")
	o, err := NewOIDC(OIDCConfig{Config: Config{ClientID: "c"}, IssuerURL: "https://appleid.apple.com", UserInCallback: true})
	if err != nil {
		f.Fatal(err)
	}
	plain, err := NewOIDC(OIDCConfig{Config: Config{ClientID: "c"}, IssuerURL: "https://id.example.com"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, user, known string) {
		form := url.Values{"user": {user}}
		id := &Identity{ID: "1", Name: known}
		if plain.CallbackUser(form, id) || id.GivenName != "" || id.Name != known {
			t.Fatalf("a provider not configured for it read %+v", id)
		}
		took := o.CallbackUser(form, id)
		if known != "" && id.Name != known {
			t.Fatalf("Name %q replaced by %q", known, id.Name)
		}
		for _, v := range []string{id.GivenName, id.FamilyName} {
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("control character taken: %q", v)
			}
		}
		if !took && (id.GivenName != "" || id.FamilyName != "") {
			t.Fatalf("reported nothing read but took %+v", id)
		}
	})
}
