package providers

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"
)

// tlsConfig reads PROVIDER_CA_FILE, PROVIDER_CERT_FILE and
// PROVIDER_KEY_FILE through readFile: the TLS settings of every call to
// the provider, or nil when none is set. Its error joins every problem,
// each naming its setting (without the prefix).
func tlsConfig(s *Settings, readFile func(string) ([]byte, error)) (*tls.Config, error) {
	if s.CAFile == "" && s.CertFile == "" {
		return nil, nil
	}
	var errs []error
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pool, err := caPool(s.CAFile, readFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("PROVIDER_CA_FILE: %w", err))
		}
		tc.RootCAs = pool
	}
	if s.CertFile != "" && s.KeyFile != "" {
		certPEM, cerr := readFile(s.CertFile)
		if cerr != nil {
			errs = append(errs, fmt.Errorf("PROVIDER_CERT_FILE: %w", fileError(cerr)))
		}
		keyPEM, kerr := readFile(s.KeyFile)
		if kerr != nil {
			errs = append(errs, fmt.Errorf("PROVIDER_KEY_FILE: %w", fileError(kerr)))
		}
		if cerr == nil && kerr == nil {
			if b, _ := pem.Decode(keyPEM); b != nil && (b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "") {
				errs = append(errs, errors.New("PROVIDER_KEY_FILE: the key is encrypted; give it unencrypted (openssl pkey -in key.pem -out plain.pem)"))
			} else if cert, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				errs = append(errs, fmt.Errorf("PROVIDER_KEY_FILE: with PROVIDER_CERT_FILE, not a certificate and its private key: %v", err))
			} else {
				tc.Certificates = []tls.Certificate{cert}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tc, nil
}

// caPool returns the system roots with the certificates of the PEM file
// added; a file without a certificate is an error.
func caPool(file string, readFile func(string) ([]byte, error)) (*x509.CertPool, error) {
	b, err := readFile(file)
	if err != nil {
		return nil, fileError(err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// fileError says a file could not be read, without Go's operation name:
// "cannot read /x: no such file or directory".
func fileError(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("cannot read %s: %w", pe.Path, pe.Err)
	}
	return fmt.Errorf("cannot read it: %w", err)
}

// providerTransport returns the transport of every call to one provider:
// base when the caller gave one (with tc applied when base is an
// *http.Transport), else a transport of its own with bounded dial, TLS
// handshake and response-header waits. It is built once per provider, so
// that connections are reused.
func providerTransport(base http.RoundTripper, tc *tls.Config, timeout time.Duration) http.RoundTripper {
	if base != nil {
		if t, ok := base.(*http.Transport); ok && tc != nil {
			t = t.Clone()
			t.TLSClientConfig = tc
			return t
		}
		return base
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
}

// untrustedCertificate says in plain words, when err is a failed
// verification of the provider's TLS certificate, or the provider's
// refusal of ours (mutual TLS: none sent, or one it does not trust), what
// is wrong and which settings help; "" otherwise.
func untrustedCertificate(err error) string {
	// A TLS alert from the provider about a certificate is about ours:
	// crypto/tls reports it as a net.OpError "remote error" (its alert
	// type is not exported).
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "remote error" && op.Err != nil && strings.Contains(op.Err.Error(), "certificate") {
		return "the provider refused Portcullis's TLS client certificate (" + op.Err.Error() + "): " +
			"set PROVIDER_CERT_FILE and PROVIDER_KEY_FILE to a certificate it accepts"
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return "the provider's TLS certificate is not trusted (signed by an unknown authority): set PROVIDER_CA_FILE to the CA that signed it"
	case errors.As(err, &host):
		return "the provider's TLS certificate is not valid for its host name (" + host.Host + ")"
	case errors.As(err, &invalid):
		return "the provider's TLS certificate is not valid (" + invalid.Error() + "): check it, or PROVIDER_CA_FILE"
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return "the provider's TLS certificate is not trusted: set PROVIDER_CA_FILE"
	}
	return ""
}

// CertificateProblem reports whether err is a failed verification of the
// provider's TLS certificate (untrusted, expired, for another host), or
// the provider's refusal of our client certificate: a problem of
// configuration, which waiting won't solve.
func CertificateProblem(err error) bool { return err != nil && untrustedCertificate(err) != "" }
