package proxy_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/proxy"
)

// TestJWKSServesClientKeys: the providers' private_key_jwt keys are served
// at /.well-known/portcullis/jwks.json, alone or with the assertion
// signer's keys in one set, each kid once.
func TestJWKSServesClientKeys(t *testing.T) {
	t.Parallel()
	clientKey := json.RawMessage(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"client-1","alg":"ES256","use":"sig"}`)
	signer, err := assertion.NewSigner(assertion.Options{Issuer: "https://portcullis.example", Audience: "wiki"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		keys     []json.RawMessage
		signer   *assertion.Signer
		wantKids []string
		wantNone bool
	}{
		{name: "neither", wantNone: true},
		{name: "client key alone", keys: []json.RawMessage{clientKey}, wantKids: []string{"client-1"}},
		{name: "both", keys: []json.RawMessage{clientKey}, signer: signer, wantKids: []string{signer.KeyID(), "client-1"}},
		{name: "one key for two providers", keys: []json.RawMessage{clientKey, clientKey}, wantKids: []string{"client-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{proxy: func(o *proxy.Options) {
				o.Identity.ClientKeys, o.Identity.Assertions = tc.keys, tc.signer
			}})
			req, _ := http.NewRequest("GET", h.proxy.URL+"/.well-known/portcullis/jwks.json", nil)
			req.Header.Set("Accept", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tc.wantNone {
				if resp.StatusCode == http.StatusOK {
					t.Errorf("GET jwks.json = 200 with no key to serve; want it absent")
				}
				return
			}
			var set struct {
				Keys []struct {
					Kid string `json:"kid"`
					D   string `json:"d"`
				} `json:"keys"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET jwks.json = %d, %v", resp.StatusCode, err)
			}
			var kids []string
			for _, k := range set.Keys {
				kids = append(kids, k.Kid)
				if k.D != "" {
					t.Errorf("key %s has a private part", k.Kid)
				}
			}
			if !slices.Equal(kids, tc.wantKids) {
				t.Errorf("kids = %q; want %q", kids, tc.wantKids)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}
