// Package assertion signs the identity assertions Portcullis sends
// upstream (X-Portcullis-Assertion): short-lived JWTs that carry the user's
// identity, so that an upstream reachable without going through the proxy
// can still check who the user is, against the public keys Portcullis
// publishes as a JWK Set (/.well-known/portcullis/jwks.json).
//
// An upstream verifies an assertion as it would an ID token: signature
// against the JWK Set (by kid), iss, aud, exp. With go-oidc:
//
//	keys := oidc.NewRemoteKeySet(ctx, "https://app.example.com/.well-known/portcullis/jwks.json")
//	v := oidc.NewVerifier("https://app.example.com", keys, &oidc.Config{ClientID: "orders", SupportedSigningAlgs: []string{"ES256"}})
//	tok, err := v.Verify(ctx, r.Header.Get("X-Portcullis-Assertion"))
package assertion

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Defaults of Options.
const (
	DefaultTTL       = 60 * time.Second
	DefaultIssuer    = "portcullis"
	DefaultCacheSize = 10000
)

// Options configure a Signer.
type Options struct {
	// Issuer is the iss claim; default "portcullis". The proxy's public URL
	// is a good choice.
	Issuer string
	// Audience is the aud claim, which upstreams should check; empty: no
	// aud claim.
	Audience string
	// TTL is how long an assertion is valid; default 60s. An assertion is
	// reused for the same identity during the first half of its life, so
	// every assertion sent has at least TTL/2 left.
	TTL time.Duration
	// Key signs assertions: an ECDSA (P-256, P-384, P-521), RSA (2048 bits
	// or more) or Ed25519 private key; nil: a new ECDSA P-256 key, which
	// lives as long as the process. Replicas that share an upstream need a
	// shared key (ParsePrivateKeyPEM), or each one's JWK Set will lack the
	// others' keys.
	Key crypto.Signer
	// Grace is how long a key replaced by AddKey stays in the JWK Set;
	// default 2×TTL, so that assertions it signed verify until they expire.
	Grace time.Duration
	// CacheSize bounds the memoized assertions; default 10000; negative:
	// sign every time.
	CacheSize int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Claims are the identity an assertion carries.
type Claims struct {
	// Subject is the provider's user id (sub). It is unique within
	// Provider only: upstreams key users on (provider, sub).
	Subject string
	// User is the X-User value.
	User       string
	Email      string
	Name       string
	GivenName  string
	FamilyName string
	Username   string
	Groups     []string
	// Provider is the provider id (X-User-Provider).
	Provider string
	// Attributes are the CLAIM_ATTRIBUTES, by name.
	Attributes map[string]string
}

// identity is the JSON of Claims besides sub.
type identity struct {
	User       string            `json:"user,omitempty"`
	Email      string            `json:"email,omitempty"`
	Name       string            `json:"name,omitempty"`
	GivenName  string            `json:"given_name,omitempty"`
	FamilyName string            `json:"family_name,omitempty"`
	Username   string            `json:"preferred_username,omitempty"`
	Groups     []string          `json:"groups,omitempty"`
	Provider   string            `json:"provider,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// payload is an assertion's claims: the registered ones from go-jose's
// jwt.Claims, then the identity.
type payload struct {
	jwt.Claims
	identity
}

// A Signer signs assertions and publishes its public keys. It is safe for
// concurrent use.
type Signer struct {
	issuer    string
	audience  jwt.Audience
	ttl       time.Duration
	grace     time.Duration
	cacheSize int
	now       func() time.Time

	mu      sync.RWMutex
	current *signingKey
	retired []*signingKey // previous keys, kept until their until
	jwks    []byte        // JSON of current and retired public keys
	cache   map[[sha256.Size]byte]cached
}

// signingKey is one key with its JOSE signer.
type signingKey struct {
	kid    string
	alg    jose.SignatureAlgorithm
	public jose.JSONWebKey
	signer jose.Signer
	until  time.Time // for retired keys: when it leaves the JWK Set
}

// cached is a memoized assertion.
type cached struct {
	token      string
	reuseUntil time.Time
}

// NewSigner checks opts, fills its defaults and returns the Signer,
// generating a key when opts has none.
func NewSigner(opts Options) (*Signer, error) {
	var errs []error
	if opts.TTL < 0 {
		errs = append(errs, fmt.Errorf("ttl must not be negative, got %v", opts.TTL))
	}
	if opts.Grace < 0 {
		errs = append(errs, fmt.Errorf("grace must not be negative, got %v", opts.Grace))
	}
	s := &Signer{
		issuer:    opts.Issuer,
		ttl:       opts.TTL,
		grace:     opts.Grace,
		cacheSize: opts.CacheSize,
		now:       opts.Now,
		cache:     make(map[[sha256.Size]byte]cached),
	}
	if s.issuer == "" {
		s.issuer = DefaultIssuer
	}
	if opts.Audience != "" {
		s.audience = jwt.Audience{opts.Audience}
	}
	if s.ttl == 0 {
		s.ttl = DefaultTTL
	}
	if s.grace == 0 {
		s.grace = 2 * s.ttl
	}
	if s.cacheSize == 0 {
		s.cacheSize = DefaultCacheSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	key := opts.Key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			errs = append(errs, fmt.Errorf("key: generating a P-256 key: %w", err))
		}
		key = k
	}
	var sk *signingKey
	if key != nil {
		var err error
		if sk, err = newSigningKey(key); err != nil {
			errs = append(errs, fmt.Errorf("key: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.current = sk
	s.jwks = s.marshalJWKS()
	return s, nil
}

// newSigningKey picks the algorithm for key and makes its signer; the kid
// is the key's RFC 7638 thumbprint.
func newSigningKey(key crypto.Signer) (*signingKey, error) {
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			alg = jose.ES256
		case elliptic.P384():
			alg = jose.ES384
		case elliptic.P521():
			alg = jose.ES512
		default:
			return nil, errors.New("ECDSA keys must be on P-256, P-384 or P-521")
		}
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA keys must have at least 2048 bits, got %d", k.N.BitLen())
		}
		alg = jose.RS256
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	pub := jose.JSONWebKey{Key: key.Public(), Algorithm: string(alg), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: pub.KeyID, alg: alg, public: pub, signer: signer}, nil
}

// AddKey makes key the signing key. The previous key stays in the JWK Set
// for Options.Grace, so that the assertions it signed still verify. Adding
// the current key again does nothing.
func (s *Signer) AddKey(key crypto.Signer) error {
	sk, err := newSigningKey(key)
	if err != nil {
		return fmt.Errorf("assertion key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sk.kid == s.current.kid {
		return nil
	}
	now := s.now()
	old := s.current
	old.until = now.Add(s.grace)
	s.retired = append(prune(now, s.retired), old)
	// A key that comes back is current, not retired.
	s.retired = slices.DeleteFunc(s.retired, func(k *signingKey) bool { return k.kid == sk.kid })
	s.current = sk
	clear(s.cache)
	s.jwks = s.marshalJWKS()
	return nil
}

// prune returns keys without those whose grace has ended, reusing keys.
func prune(now time.Time, keys []*signingKey) []*signingKey {
	return slices.DeleteFunc(keys, func(k *signingKey) bool { return lapsed(now, k) })
}

// lapsed reports whether k's grace has ended by now.
func lapsed(now time.Time, k *signingKey) bool {
	return !now.Before(k.until)
}

// KeyID returns the kid of the current signing key.
func (s *Signer) KeyID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current.kid
}

// Sign returns a compact JWS (with the current key's algorithm, ES256 for
// the generated key) carrying c: iss, aud, sub, iat, nbf, exp and the
// identity claims user, email, name, given_name, family_name,
// preferred_username, groups, provider and attributes. The same claims
// signed again within TTL/2 get the same assertion back.
func (s *Signer) Sign(c Claims) (string, error) {
	id := identity{
		User: c.User, Email: c.Email, Name: c.Name, GivenName: c.GivenName, FamilyName: c.FamilyName,
		Username: c.Username, Groups: c.Groups, Provider: c.Provider, Attributes: c.Attributes,
	}
	now := s.now()
	var key [sha256.Size]byte // stays zero, and the cache empty, without a cache
	if s.cacheSize > 0 {
		key = cacheKey(c.Subject, &id)
	}
	s.mu.RLock()
	e, ok := s.cache[key]
	sk := s.current
	s.mu.RUnlock()
	if ok && now.Before(e.reuseUntil) {
		return e.token, nil
	}
	iat := now.Truncate(time.Second)
	p := payload{
		Claims: jwt.Claims{
			Issuer:    s.issuer,
			Subject:   c.Subject,
			Audience:  s.audience,
			IssuedAt:  jwt.NewNumericDate(iat),
			NotBefore: jwt.NewNumericDate(iat),
			Expiry:    jwt.NewNumericDate(iat.Add(s.ttl)),
		},
		identity: id,
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("assertion claims: %w", err)
	}
	jws, err := sk.signer.Sign(b)
	if err != nil {
		return "", fmt.Errorf("signing the assertion: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("signing the assertion: %w", err)
	}
	if s.cacheSize > 0 {
		s.mu.Lock()
		if s.current == sk { // not rotated meanwhile
			if len(s.cache) >= s.cacheSize {
				s.evictLocked(now)
			}
			s.cache[key] = cached{token: tok, reuseUntil: iat.Add(s.ttl / 2)}
		}
		s.mu.Unlock()
	}
	return tok, nil
}

// cacheKey hashes an identity: equal claims, equal key. Every value is
// length-prefixed, so that no two identities write the same bytes.
func cacheKey(sub string, id *identity) [sha256.Size]byte {
	buf := make([]byte, 0, 512)
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	str(sub)
	str(id.User)
	str(id.Email)
	str(id.Name)
	str(id.GivenName)
	str(id.FamilyName)
	str(id.Username)
	str(id.Provider)
	buf = binary.AppendUvarint(buf, uint64(len(id.Groups)))
	for _, g := range id.Groups {
		str(g)
	}
	buf = binary.AppendUvarint(buf, uint64(len(id.Attributes)))
	if len(id.Attributes) == 1 {
		for k, v := range id.Attributes {
			str(k)
			str(v)
		}
	} else {
		for _, k := range slices.Sorted(maps.Keys(id.Attributes)) {
			str(k)
			str(id.Attributes[k])
		}
	}
	return sha256.Sum256(buf)
}

// evictLocked makes room in the cache: stale entries go first; if none
// were stale, an arbitrary quarter goes.
func (s *Signer) evictLocked(now time.Time) {
	for k, e := range s.cache {
		if !now.Before(e.reuseUntil) {
			delete(s.cache, k)
		}
	}
	drop := len(s.cache) - s.cacheSize*3/4
	for k := range s.cache {
		if drop <= 0 {
			break
		}
		delete(s.cache, k)
		drop--
	}
}

// jwkSet is the JSON of a JWK Set.
type jwkSet struct {
	Keys []jose.JSONWebKey `json:"keys"`
}

// marshalJWKS returns the JWK Set of the current and retired keys.
func (s *Signer) marshalJWKS() []byte {
	set := jwkSet{Keys: []jose.JSONWebKey{s.current.public}}
	for _, k := range s.retired {
		set.Keys = append(set.Keys, k.public)
	}
	b, _ := json.Marshal(set) // public keys of the supported types always marshal
	return b
}

// JWKS returns the public keys as a JWK Set (RFC 7517): the current key and
// those replaced less than Grace ago, each with kid, alg and use.
func (s *Signer) JWKS() []byte {
	now := s.now()
	s.mu.RLock()
	stale := slices.ContainsFunc(s.retired, func(k *signingKey) bool { return lapsed(now, k) })
	b := s.jwks
	s.mu.RUnlock()
	if stale {
		s.mu.Lock()
		s.retired = prune(now, s.retired)
		s.jwks = s.marshalJWKS()
		b = s.jwks
		s.mu.Unlock()
	}
	return bytes.Clone(b)
}

// ServeHTTP serves the JWK Set, for GET and HEAD: mount it at
// /.well-known/portcullis/jwks.json, outside authentication.
func (s *Signer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b := s.JWKS()
	w.Header().Set("Content-Type", "application/json")
	// Short: verifiers fetch again anyway when they meet an unknown kid.
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(b)
}

// ParsePrivateKeyPEM reads a signing key from PEM: PKCS #8 ("PRIVATE
// KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS #1 ("RSA PRIVATE KEY"), as
// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no private key PEM block found")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue // EC PARAMETERS and the like
		}
		if err != nil {
			return nil, fmt.Errorf("parsing the %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		if _, err := newSigningKey(signer); err != nil {
			return nil, err
		}
		return signer, nil
	}
}
