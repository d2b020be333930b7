package providers

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ClientAssertionType is the client_assertion_type of RFC 7523 section
// 2.2, sent with every client assertion.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionTTL is how far ahead a private_key_jwt assertion expires.
const assertionTTL = 5 * time.Minute

// A clientAuth authenticates the client without a shared secret, or with
// a secret it makes itself: the TOKEN_AUTH_STYLE values private_key_jwt,
// client_assertion and none, and Apple's signed client secret. The same
// one serves every call that authenticates the client: token, refresh,
// introspection, revocation, client credentials. A nil *clientAuth adds
// nothing (the static client secret, as x/oauth2 sends it).
type clientAuth struct {
	style    AuthStyle
	clientID string
	// audience is added to an assertion's audience beside the URL of the
	// endpoint called: the issuer for OpenID Connect (rfc7523bis
	// recommends it, and servers such as zitadel's require it), else the
	// token URL (RFC 7523's example), so that introspection and
	// revocation endpoints that want either find it. RFC 7523 allows a
	// list.
	audience string
	// signer signs private_key_jwt assertions.
	signer jose.Signer
	// assertionFile holds the client_assertion JWT, read for each call.
	assertionFile string
	readFile      func(string) ([]byte, error)
	// secret makes Apple's client secret.
	secret *appleSecret
	now    func() time.Time
}

// add puts the client's credentials for a call to endpoint (its URL) into
// form, besides the client id, which the caller sets under its name.
func (a *clientAuth) add(form url.Values, endpoint, secretParam string) error {
	if a == nil {
		return nil
	}
	if a.secret != nil {
		s, err := a.secret.get()
		if err != nil {
			return err
		}
		form.Set(secretParam, s)
	}
	switch a.style {
	case AuthStylePrivateKeyJWT:
		s, err := a.assertion(endpoint)
		if err != nil {
			return err
		}
		form.Set("client_assertion_type", ClientAssertionType)
		form.Set("client_assertion", s)
	case AuthStyleClientAssertion:
		b, err := a.readFile(a.assertionFile)
		if err != nil {
			return fmt.Errorf("CLIENT_ASSERTION_FILE: %w", fileError(err))
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return fmt.Errorf("CLIENT_ASSERTION_FILE: %s is empty", a.assertionFile)
		}
		form.Set("client_assertion_type", ClientAssertionType)
		form.Set("client_assertion", s)
	}
	return nil
}

// assertion signs a fresh RFC 7523 client assertion for endpoint.
func (a *clientAuth) assertion(endpoint string) (string, error) {
	now := a.now()
	aud := jwt.Audience{endpoint}
	if a.audience != "" && a.audience != endpoint {
		aud = append(aud, a.audience)
	}
	claims := jwt.Claims{
		Issuer:    a.clientID,
		Subject:   a.clientID,
		Audience:  aud,
		ID:        randomID(),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(assertionTTL)),
	}
	s, err := jwt.Signed(a.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("CLIENT_KEY_FILE: cannot sign the client assertion: %w", err)
	}
	return s, nil
}

// randomID returns 128 random bits, base64url: a jti.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientKey is CLIENT_KEY_FILE's key with what signs with it.
type clientKey struct {
	key crypto.Signer
	alg jose.SignatureAlgorithm
	kid string
}

// readClientKey reads an unencrypted PEM private key: RSA (RS256, at least
// 2048 bits) or EC P-256 (ES256); ecOnly refuses RSA (Apple). Public keys,
// encrypted keys and other types are refused with the reason.
func readClientKey(file, kid string, ecOnly bool, readFile func(string) ([]byte, error)) (*clientKey, error) {
	data, err := readFile(file)
	if err != nil {
		return nil, fileError(err)
	}
	key, err := parsePrivateKeyPEM(data)
	if err != nil {
		return nil, err
	}
	k := &clientKey{kid: kid}
	switch key := key.(type) {
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an EC key on %s; want P-256 (ES256)", key.Curve.Params().Name)
		}
		k.key, k.alg = key, jose.ES256
	case *rsa.PrivateKey:
		if ecOnly {
			return nil, errors.New("an RSA key; want an EC P-256 key (ES256)")
		}
		if key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("an RSA key of %d bits; want at least 2048", key.N.BitLen())
		}
		k.key, k.alg = key, jose.RS256
	case ed25519.PrivateKey:
		return nil, errors.New("an Ed25519 key; want " + keyWant(ecOnly))
	default:
		return nil, fmt.Errorf("a %T; want %s", key, keyWant(ecOnly))
	}
	if k.kid == "" {
		tp, err := (&jose.JSONWebKey{Key: k.key.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		k.kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	return k, nil
}

func keyWant(ecOnly bool) string {
	if ecOnly {
		return "an EC P-256 key (ES256)"
	}
	return "an RSA (RS256) or EC P-256 (ES256) key"
}

// parsePrivateKeyPEM reads the first private key of a PEM file: PKCS #8,
// SEC 1 or PKCS #1.
func parsePrivateKeyPEM(data []byte) (any, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key in it")
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
			return nil, errors.New("the key is encrypted; give it unencrypted (openssl pkey -in key.pem -out plain.pem)")
		case block.Type == "PUBLIC KEY" || block.Type == "RSA PUBLIC KEY" || block.Type == "CERTIFICATE":
			return nil, fmt.Errorf("a %s, not a private key", strings.ToLower(block.Type))
		case block.Type == "PRIVATE KEY":
			return x509.ParsePKCS8PrivateKey(block.Bytes)
		case block.Type == "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case block.Type == "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		}
	}
}

// signer returns a go-jose signer of k, naming its kid.
func (k *clientKey) signer(typ string) (jose.Signer, error) {
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), k.kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
}

// publicJWK is k's public key as a JWK, for Portcullis's JWKS.
func (k *clientKey) publicJWK() (json.RawMessage, error) {
	return json.Marshal(jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
}

// Apple's client secret: an ES256 JWT of at most six months; Portcullis
// makes one of appleSecretTTL and makes a new one after appleSecretRenew.
const (
	appleSecretTTL   = 30 * 24 * time.Hour
	appleSecretRenew = 15 * 24 * time.Hour
	appleAudience    = "https://appleid.apple.com"
)

// appleSecret makes Sign in with Apple's client secret (iss = team id,
// sub = client id, aud = https://appleid.apple.com), keeps it, and makes
// a new one once it is appleSecretRenew old. Safe for concurrent use.
type appleSecret struct {
	teamID, clientID string
	signer           jose.Signer
	now              func() time.Time

	mu   sync.Mutex
	cur  string
	made time.Time
}

func (a *appleSecret) get() (string, error) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != "" && now.Sub(a.made) < appleSecretRenew && !now.Before(a.made) {
		return a.cur, nil
	}
	s, err := jwt.Signed(a.signer).Claims(jwt.Claims{
		Issuer:   a.teamID,
		Subject:  a.clientID,
		Audience: jwt.Audience{appleAudience},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(appleSecretTTL)),
	}).Serialize()
	if err != nil {
		return "", fmt.Errorf("CLIENT_KEY_FILE: cannot sign Apple's client secret: %w", err)
	}
	a.cur, a.made = s, now
	return s, nil
}
