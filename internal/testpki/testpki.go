// Package testpki makes a private certificate authority for tests: a CA,
// a server certificate for 127.0.0.1 and localhost, and a client
// certificate, written as PEM files where a configuration names files.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A PKI is a private CA and the certificates it signed.
type PKI struct {
	// CAFile is the CA's certificate (PEM); Pool holds it.
	CAFile string
	Pool   *x509.CertPool
	// Server is a certificate for 127.0.0.1 and localhost.
	Server tls.Certificate
	// CertFile and KeyFile are a client certificate and its key (PEM,
	// PKCS #8); Client is the same pair.
	CertFile, KeyFile string
	Client            tls.Certificate
}

// WritePEM writes one PEM block to a new file in a temporary directory
// and returns its path.
func WritePEM(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// New makes a CA valid for an hour and the two certificates.
func New(t testing.TB) *PKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Private CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage) tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	p := &PKI{Pool: x509.NewCertPool()}
	p.Pool.AddCert(ca)
	p.CAFile = WritePEM(t, "ca.pem", "CERTIFICATE", caDER)
	p.Server = issue(2, x509.ExtKeyUsageServerAuth)
	p.Client = issue(3, x509.ExtKeyUsageClientAuth)
	p.CertFile = WritePEM(t, "client.pem", "CERTIFICATE", p.Client.Certificate[0])
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.Client.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	p.KeyFile = WritePEM(t, "client-key.pem", "PRIVATE KEY", keyDER)
	return p
}

// StartTLS starts srv (from httptest.NewUnstartedServer) over TLS with
// the server certificate; mutual makes every connection present a client
// certificate of the CA.
func (p *PKI) StartTLS(srv *httptest.Server, mutual bool) {
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server}}
	if mutual {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, p.Pool
	}
	srv.StartTLS()
}

// Trust makes c's transport (an *http.Transport) trust the CA and, with
// withCert, present the client certificate.
func (p *PKI) Trust(c *http.Client, withCert bool) {
	tr := c.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: p.Pool}
	if withCert {
		tr.TLSClientConfig.Certificates = []tls.Certificate{p.Client}
	}
}
