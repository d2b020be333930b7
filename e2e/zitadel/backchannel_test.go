package zitadel_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
)

// logoutToken is a back-channel logout token as zitadel/oidc shapes one
// (oidc.NewLogoutTokenClaims), for the user sub, signed with the example
// provider's own signing key under typ logout+jwt. (The example provider
// defines logout tokens but doesn't send them: the test is its back
// channel.)
func logoutToken(t *testing.T, o *exampleOP, sub, jti string) string {
	t.Helper()
	key, err := o.store.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := oidc.NewLogoutTokenClaims(o.issuer, sub, oidc.Audience{portcullisClient}, time.Now().Add(2*time.Minute), jti, "", 0)
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBackchannelLogout: a logout token in zitadel/oidc's shape, signed
// with the provider's key, ends the user's session at Portcullis (the
// real binary); its replay, and one for another user, are refused or end
// nothing.
func TestBackchannelLogout(t *testing.T) {
	t.Parallel()
	o, p, b := setUp(t, opOptions{})
	signIn(t, b, o, p, "/")
	client := stack.HTTPClient(t)
	uri := p.URL + "/oauth2/backchannel-logout"
	signedIn := func() bool {
		resp := b.Get("/")
		stack.ReadBody(t, resp)
		return resp.StatusCode == http.StatusOK
	}

	other := logoutToken(t, o, "someone-else", "jti-other")
	if status, body, err := idp.PostLogoutToken(t.Context(), client, uri, other); err != nil || status != http.StatusOK {
		t.Fatalf("logout of another user = %d %s, %v; want 200 (a valid token naming no session here)", status, body, err)
	}
	if !signedIn() {
		t.Fatal("another user's logout ended this session")
	}
	tok := logoutToken(t, o, userID, "jti-1")
	if status, body, err := idp.PostLogoutToken(t.Context(), client, uri, tok); err != nil || status != http.StatusOK {
		t.Fatalf("back-channel logout = %d %s, %v; want 200", status, body, err)
	}
	if signedIn() {
		t.Fatal("session still signed in after the provider's back-channel logout")
	}
	status, body, _ := idp.PostLogoutToken(t.Context(), client, uri, tok)
	var e struct{ Error string }
	if json.Unmarshal(body, &e); status != http.StatusBadRequest || e.Error != "invalid_request" {
		t.Errorf("replayed logout token = %d %s; want 400 invalid_request", status, body)
	}
}
