package zitadel_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPrivateKeyJWT: Portcullis's client registered for private_key_jwt
// at the example provider, which knows no secret for it and checks each
// client assertion (iss = sub = the client, an audience naming its issuer,
// exp, iat) with the key Portcullis publishes at
// /.well-known/portcullis/jwks.json: the sign-in's code exchange and the
// revocation at sign-out authenticate that way.
func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	o, p, b := setUp(t, opOptions{privateKeyJWT: true},
		"PORTCULLIS_TOKEN_AUTH_STYLE=private_key_jwt", "PORTCULLIS_CLIENT_KEY_FILE="+keyFile,
		"PORTCULLIS_CLIENT_KEY_ID=portcullis-1", "PORTCULLIS_CLIENT_SECRET=")

	echo, _ := signIn(t, b, o, p, "/")
	if got := echo.Headers.Get("X-User"); got != o.user.Email {
		t.Errorf("the app got X-User %q; want %q", got, o.user.Email)
	}
	if kids := o.store.kidsFetched(); len(kids) == 0 || slices.ContainsFunc(kids, func(k string) bool { return k != "portcullis-1" }) {
		t.Errorf("the provider looked up kids %q in Portcullis's JWKS; want portcullis-1 only", kids)
	}
	n := len(o.store.kidsFetched())
	signOut(t, b)
	if got, want := o.store.revoked(), []revocation{{clientID: portcullisClient, userID: userID}}; !slices.Equal(got, want) {
		t.Errorf("the provider got revocations %+v; want %+v", got, want)
	}
	if len(o.store.kidsFetched()) == n {
		t.Error("the revocation was not authenticated with a client assertion")
	}
}
