package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testpki"
)

// TestTokenCommandClientAuth: portcullis token authenticates the client as
// sign-ins do, with every TOKEN_AUTH_STYLE that needs no secret, and over
// mutual TLS with a private CA.
func TestTokenCommandClientAuth(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := testpki.WritePEM(t, "client.pem", "PRIVATE KEY", der)
	assertionFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(assertionFile, []byte("eyJ.projected.token\n"), 0o600)

	t.Run("private_key_jwt", func(t *testing.T) {
		t.Parallel()
		// The provider checks the assertion against the public key the
		// command signed with, published as Portcullis publishes it.
		jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "svc-key", Algorithm: "ES256", Use: "sig"}}})
		}))
		t.Cleanup(jwks.Close)
		srv := tokenIDP(t, "svc", "unused-secret", idp.Options{ClientAssertion: idp.PrivateKeyJWT(jwks.Client(), jwks.URL, "", nil)})
		env := tokenEnv(srv, "svc", "")
		env["PORTCULLIS_TOKEN_AUTH_STYLE"] = "private_key_jwt"
		env["PORTCULLIS_CLIENT_KEY_FILE"] = keyFile
		env["PORTCULLIS_CLIENT_KEY_ID"] = "svc-key"
		code, out, errOut := runToken(t, env)
		if code != 0 {
			t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
		}
		wantServiceToken(t, out, srv, "svc")
	})
	t.Run("client_assertion", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var got string
		srv := tokenIDP(t, "svc", "unused-secret", idp.Options{ClientAssertion: func(_, a string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			got = a
			return "svc", nil
		}})
		env := tokenEnv(srv, "svc", "")
		env["PORTCULLIS_TOKEN_AUTH_STYLE"] = "client_assertion"
		env["PORTCULLIS_CLIENT_ASSERTION_FILE"] = assertionFile
		code, out, errOut := runToken(t, env)
		if code != 0 {
			t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
		}
		wantServiceToken(t, out, srv, "svc")
		mu.Lock()
		if got != "eyJ.projected.token" {
			t.Errorf("assertion = %q; want the file's", got)
		}
		mu.Unlock()
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		srv := tokenIDP(t, "svc", "unused-secret", idp.Options{PublicClients: true, RequirePKCE: true})
		env := tokenEnv(srv, "svc", "")
		env["PORTCULLIS_TOKEN_AUTH_STYLE"] = "none"
		code, out, errOut := runToken(t, env)
		if code != 0 {
			t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
		}
		wantServiceToken(t, out, srv, "svc")
	})
	t.Run("mutual TLS", func(t *testing.T) {
		t.Parallel()
		pki := testpki.New(t)
		srv := httptest.NewUnstartedServer(idp.New(idp.Options{ClientID: "svc", ClientSecret: "svc-secret-value"}))
		pki.StartTLS(srv, true)
		t.Cleanup(srv.Close)
		env := tokenEnv(srv, "svc", "svc-secret-value")
		code, _, errOut := runToken(t, env)
		if code == 0 || !strings.Contains(errOut, "PROVIDER_CA_FILE") {
			t.Errorf("token without PROVIDER_CA_FILE = %d, stderr %q; want a failure naming PROVIDER_CA_FILE", code, errOut)
		}
		env["PORTCULLIS_PROVIDER_CA_FILE"] = pki.CAFile
		env["PORTCULLIS_PROVIDER_CERT_FILE"] = pki.CertFile
		env["PORTCULLIS_PROVIDER_KEY_FILE"] = pki.KeyFile
		code, out, errOut := runToken(t, env)
		if code != 0 {
			t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
		}
		pki.Trust(srv.Client(), true)
		wantServiceToken(t, out, srv, "svc")
	})
}
