package proxy

import (
	"encoding/json"
	"net/http"

	"github.com/portcullis/portcullis/assertion"
)

// jwks serves Portcullis's public keys in one JWK Set: those of the
// X-Portcullis-Assertion signer (which rotate) and the providers' client
// keys (private_key_jwt), a key listed once by kid.
type jwks struct {
	signer *assertion.Signer // nil without ASSERTION
	static []json.RawMessage
}

func (j *jwks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if j.signer != nil {
		// The signer's own set: always valid JSON.
		_ = json.Unmarshal(j.signer.JWKS(), &set)
	}
	seen := map[string]bool{}
	keys := make([]json.RawMessage, 0, len(set.Keys)+len(j.static))
	for _, k := range append(set.Keys, j.static...) {
		var id struct {
			Kid string `json:"kid"`
		}
		if json.Unmarshal(k, &id) != nil || seen[id.Kid] {
			continue
		}
		seen[id.Kid] = true
		keys = append(keys, k)
	}
	set.Keys = keys
	b, err := json.Marshal(set)
	if err != nil {
		http.Error(w, "cannot list the keys", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Short: verifiers fetch again anyway when they meet an unknown kid.
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(b)
}
