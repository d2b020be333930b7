package assertion

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/portcullis/portcullis/internal/testclock"
)

// newClock is the assertion tests' clock, stopped at the start of the
// current second.
func newClock() *testclock.Clock { return testclock.New(time.Now().Truncate(time.Second)) }

const (
	testIssuer   = "https://app.example.com"
	testAudience = "orders"
)

var alice = Claims{
	Subject:    "1001",
	User:       "alice",
	Email:      "alice@example.com",
	Name:       "Alice Example",
	Username:   "alice",
	Groups:     []string{"admins", "staff"},
	Provider:   "corp",
	Attributes: map[string]string{"Dept": "R&D"},
}

func newTestSigner(t testing.TB, c *testclock.Clock, edit func(*Options)) *Signer {
	t.Helper()
	opts := Options{Issuer: testIssuer, Audience: testAudience, Now: c.Now}
	if edit != nil {
		edit(&opts)
	}
	s, err := NewSigner(opts)
	if err != nil {
		t.Fatalf("NewSigner() = %v; want nil", err)
	}
	return s
}

// jwksServer serves s's JWK Set over HTTP, counting requests.
func jwksServer(t *testing.T, s *Signer) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/portcullis/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		s.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &n
}

// verifier is what an upstream runs: go-oidc against the served JWK Set.
func verifier(t *testing.T, srv *httptest.Server, c *testclock.Clock) *oidc.IDTokenVerifier {
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(t.Context(), srv.Client()), srv.URL+"/.well-known/portcullis/jwks.json")
	return oidc.NewVerifier(testIssuer, keys, &oidc.Config{ClientID: testAudience, SupportedSigningAlgs: []string{"ES256", "RS256"}, Now: c.Now})
}

func TestSignVerifies(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newTestSigner(t, c, nil)
	srv, _ := jwksServer(t, s)
	tok, err := s.Sign(alice)
	if err != nil {
		t.Fatalf("Sign() = %v; want nil", err)
	}
	idt, err := verifier(t, srv, c).Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify() = %v; want nil", err)
	}
	var got struct {
		Iss        string            `json:"iss"`
		Sub        string            `json:"sub"`
		Aud        string            `json:"aud"`
		Iat        int64             `json:"iat"`
		Nbf        int64             `json:"nbf"`
		Exp        int64             `json:"exp"`
		User       string            `json:"user"`
		Email      string            `json:"email"`
		Name       string            `json:"name"`
		Username   string            `json:"preferred_username"`
		Groups     []string          `json:"groups"`
		Provider   string            `json:"provider"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := idt.Claims(&got); err != nil {
		t.Fatal(err)
	}
	now := c.Now().Unix()
	want := fmt.Sprintf("%s 1001 %s %d %d %d alice alice@example.com Alice Example alice [admins staff] corp map[Dept:R&D]",
		testIssuer, testAudience, now, now, now+60)
	if g := fmt.Sprint(got.Iss, " ", got.Sub, " ", got.Aud, " ", got.Iat, " ", got.Nbf, " ", got.Exp, " ", got.User, " ", got.Email, " ",
		got.Name, " ", got.Username, " ", got.Groups, " ", got.Provider, " ", got.Attributes); g != want {
		t.Errorf("claims = %s\nwant     %s", g, want)
	}
	head, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Alg, Kid, Typ string }
	json.Unmarshal(raw, &h)
	if h.Alg != "ES256" || h.Kid != s.KeyID() || h.Typ != "JWT" {
		t.Errorf("header = %+v; want ES256, kid %s, JWT", h, s.KeyID())
	}
}

func TestSignRejected(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newTestSigner(t, c, nil)
	srv, _ := jwksServer(t, s)
	tok, err := s.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	forged, _ := json.Marshal(map[string]any{"iss": testIssuer, "aud": testAudience, "sub": "1001", "groups": []string{"admins", "root"}, "exp": c.Now().Add(time.Hour).Unix()})
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	other := newTestSigner(t, c, nil) // a key not in the set
	foreign, _ := other.Sign(alice)
	otherAud := newTestSigner(t, c, func(o *Options) { o.Audience = "billing" })

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		late := testclock.New(c.Now().Add(61 * time.Second))
		if _, err := verifier(t, srv, late).Verify(t.Context(), tok); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("Verify() after TTL = %v; want expired", err)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		t.Parallel()
		if _, err := verifier(t, srv, c).Verify(t.Context(), tampered); err == nil {
			t.Error("Verify(tampered) = nil; want an error")
		}
	})
	t.Run("foreign key", func(t *testing.T) {
		t.Parallel()
		if _, err := verifier(t, srv, c).Verify(t.Context(), foreign); err == nil {
			t.Error("Verify(signed by another key) = nil; want an error")
		}
	})
	t.Run("other audience", func(t *testing.T) {
		t.Parallel()
		srv2, _ := jwksServer(t, otherAud)
		tok, _ := otherAud.Sign(alice)
		if _, err := verifier(t, srv2, c).Verify(t.Context(), tok); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Errorf("Verify(aud billing) = %v; want an audience error", err)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newTestSigner(t, c, nil)
	srv, fetches := jwksServer(t, s)
	v := verifier(t, srv, c)
	oldTok, _ := s.Sign(alice)
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("Verify(old) = %v; want nil", err)
	}
	oldKid := s.KeyID()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddKey(rk); err != nil {
		t.Fatalf("AddKey() = %v; want nil", err)
	}
	if s.KeyID() == oldKid {
		t.Fatal("KeyID() unchanged after AddKey")
	}
	newTok, _ := s.Sign(alice)
	if newTok == oldTok {
		t.Fatal("Sign() after AddKey returned the assertion memoized under the old key")
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("Verify(%s) after rotation = %v; want nil", name, err)
		}
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("JWK Set fetched %d times; want 2 (again for the new kid)", n)
	}
	kids := func() string {
		var set struct{ Keys []struct{ Kid string } }
		json.Unmarshal(s.JWKS(), &set)
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid)
		}
		return strings.Join(out, ",")
	}
	if got, want := kids(), s.KeyID()+","+oldKid; got != want {
		t.Errorf("JWKS kids = %s; want %s", got, want)
	}
	c.Advance(2 * DefaultTTL) // the default grace
	if got := kids(); got != s.KeyID() {
		t.Errorf("JWKS kids after the grace = %s; want only %s", got, s.KeyID())
	}
	// Adding the current key again changes nothing.
	if err := s.AddKey(rk); err != nil || kids() != s.KeyID() {
		t.Errorf("AddKey(current) = %v, kids %s; want nil, %s", err, kids(), s.KeyID())
	}
}

func TestSignMemoized(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newTestSigner(t, c, nil)
	first, _ := s.Sign(alice)
	c.Advance(29 * time.Second)
	if again, _ := s.Sign(alice); again != first {
		t.Error("Sign() within TTL/2 made a new assertion; want the same")
	}
	bob := alice
	bob.Subject, bob.User = "1002", "bob"
	if other, _ := s.Sign(bob); other == first {
		t.Error("Sign(bob) returned alice's assertion")
	}
	changed := alice
	changed.Groups = []string{"staff"}
	if other, _ := s.Sign(changed); other == first {
		t.Error("Sign() with other groups returned the old assertion")
	}
	c.Advance(time.Second)
	if later, _ := s.Sign(alice); later == first {
		t.Error("Sign() after TTL/2 returned the old assertion; want a new one")
	}
	off := newTestSigner(t, c, func(o *Options) { o.CacheSize = -1 })
	a, _ := off.Sign(alice)
	b, _ := off.Sign(alice)
	if a == b {
		// ECDSA signatures are randomized: equal tokens mean memoized.
		t.Error("Sign() with CacheSize -1 memoized")
	}
}

func TestSignCacheBounded(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newTestSigner(t, c, func(o *Options) { o.CacheSize = 8 })
	for i := range 100 {
		cl := alice
		cl.Subject = fmt.Sprint(i)
		if _, err := s.Sign(cl); err != nil {
			t.Fatal(err)
		}
		s.mu.RLock()
		n := len(s.cache)
		s.mu.RUnlock()
		if n > 8 {
			t.Fatalf("cache holds %d assertions; want at most 8", n)
		}
	}
}

func TestSignConcurrent(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newTestSigner(t, c, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			cl := alice
			cl.Subject = fmt.Sprint(i % 4)
			for range 50 {
				if _, err := s.Sign(cl); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		s.AddKey(k)
		s.JWKS()
	})
	wg.Wait()
}

func TestNewSignerErrors(t *testing.T) {
	t.Parallel()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, err := NewSigner(Options{TTL: -time.Second, Grace: -time.Second, Key: small})
	if err == nil {
		t.Fatal("NewSigner() = nil; want errors")
	}
	for _, want := range []string{"ttl must not", "grace must not", "key: RSA keys must have at least 2048 bits"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewSigner() = %q; want it to say %q", err, want)
		}
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := NewSigner(Options{Key: p224}); err == nil {
		t.Error("NewSigner(P-224 key) = nil; want an error")
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	t.Parallel()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(k)
	sec1, _ := x509.MarshalECPrivateKey(k)
	for name, data := range map[string][]byte{
		"PKCS #8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"SEC 1":   append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...),
	} {
		got, err := ParsePrivateKeyPEM(data)
		if err != nil {
			t.Errorf("ParsePrivateKeyPEM(%s) = %v; want nil", name, err)
			continue
		}
		if !k.Equal(got) {
			t.Errorf("ParsePrivateKeyPEM(%s) returned another key", name)
		}
	}
	if _, err := ParsePrivateKeyPEM([]byte("nothing")); err == nil {
		t.Error("ParsePrivateKeyPEM(garbage) = nil; want an error")
	}
}

func TestServeJWKS(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, newClock(), nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/portcullis/jwks.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"kid":"`+s.KeyID()+`"`) {
		t.Errorf("GET = %d %q %s; want 200 JSON with the kid", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if strings.Contains(rec.Body.String(), `"d":`) {
		t.Error("the JWK Set holds a private key")
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("POST", "/.well-known/portcullis/jwks.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d; want 405", rec.Code)
	}
}

func BenchmarkSign(b *testing.B) {
	c := newClock()
	b.Run("cached", func(b *testing.B) {
		s := newTestSigner(b, c, nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Sign(alice); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		s := newTestSigner(b, c, func(o *Options) { o.CacheSize = -1 })
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Sign(alice); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		s := newTestSigner(b, c, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Sign(alice); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func ExampleSigner() {
	s, err := NewSigner(Options{Issuer: "https://app.example.com", Audience: "orders"})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := s.Sign(Claims{Subject: "1001", User: "alice", Email: "alice@example.com", Provider: "corp"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The proxy sends tok as X-Portcullis-Assertion and serves s (the JWK
	// Set) at /.well-known/portcullis/jwks.json.
	fmt.Println(strings.Count(tok, "."), json.Valid(s.JWKS()))
	// Output: 2 true
}
