package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/config"
)

// The main listener: a TCP address or a Unix socket (LISTEN=unix:PATH),
// and its TLS: the certificate and key in TLS_CERT_FILE and TLS_KEY_FILE,
// read again when they change, so that a renewed certificate is served
// without a restart; connections already open keep the pair they began
// with.

// socketMode is a Unix socket's mode: its owner and group may connect.
const socketMode = 0o660

// listen opens LISTEN: host:port, or unix:PATH for a Unix socket.
func listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	return listenUnix(path)
}

// listenUnix opens a Unix socket at path, mode socketMode. A socket left
// there by a server that is gone is removed first; anything else at path
// (a file, a symbolic link, a socket a live server accepts on) is left
// alone, and refused. A socket is stale only when connecting to it is
// refused (ECONNREFUSED): a busy server's full backlog (EAGAIN) is a live
// one.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket; not removed", path)
		}
		conn, err := net.DialTimeout("unix", path, time.Second)
		switch {
		case err == nil:
			conn.Close()
			return nil, fmt.Errorf("another process is listening on %s", path)
		case !errors.Is(err, syscall.ECONNREFUSED):
			// Only a refusal says no one listens: a busy server (its
			// backlog full: EAGAIN) or one we may not reach (EACCES)
			// is alive.
			return nil, fmt.Errorf("another process may be listening on %s (connecting: %v); not removed", path, pathError(err))
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale socket %s: %w", path, pathError(err))
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// certCheckInterval is how often the certificate's files are read again.
const certCheckInterval = 2 * time.Second

// maxPEMSize bounds a certificate or key file.
const maxPEMSize = 1 << 20

// tlsVersions are TLS_MIN_VERSION's values.
var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// A certificate is the TLS listener's certificate and key: the pair last
// loaded from its files, which check reads again.
type certificate struct {
	certFile, keyFile string
	log               *slog.Logger
	current           atomic.Pointer[tls.Certificate]

	// Touched by check alone: loaded is the digest of the files the
	// current pair came from; failing, that of the files (or of the
	// error reading them) that the last check could not load; warned,
	// whether failing has been warned about.
	loaded, failing [sha256.Size]byte
	warned          bool
}

// newCertificate loads the pair in certFile and keyFile; its error names
// the variable at fault.
func newCertificate(certFile, keyFile string, log *slog.Logger) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile, log: log}
	certPEM, keyPEM, err := c.read()
	if err != nil {
		return nil, err
	}
	pair, err := keyPair(certPEM, keyPEM, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c.current.Store(pair)
	c.loaded = pairDigest(certPEM, keyPEM)
	c.warnIfExpired(pair)
	return c, nil
}

// get is tls.Config.GetCertificate: the pair of the moment.
func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// watch checks the files every interval until ctx is done.
func (c *certificate) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.check()
		}
	}
}

// check reads the files again and, when their content changed and loads,
// serves the new pair from the next handshake on. A pair that does not
// load leaves the current one in place. Certificate and key are seldom
// written at once: between the two writes they don't match, so a failure
// is warned about only when the next check finds the same files (or the
// same error reading them), once.
func (c *certificate) check() {
	certPEM, keyPEM, err := c.read()
	var d [sha256.Size]byte
	if err == nil {
		d = pairDigest(certPEM, keyPEM)
		if d == c.loaded {
			c.failing, c.warned = [sha256.Size]byte{}, false
			return
		}
		var pair *tls.Certificate
		if pair, err = keyPair(certPEM, keyPEM, c.certFile, c.keyFile); err == nil {
			c.current.Store(pair)
			c.loaded, c.failing, c.warned = d, [sha256.Size]byte{}, false
			c.log.Info("TLS certificate reloaded", "cert_file", c.certFile, "subject", pair.Leaf.Subject.String(),
				"not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
			c.warnIfExpired(pair)
			return
		}
	} else {
		d = sha256.Sum256([]byte(err.Error()))
	}
	if d != c.failing {
		c.failing, c.warned = d, false // perhaps half written: look again next time
		return
	}
	if !c.warned {
		c.warned = true
		c.log.Warn("TLS certificate files changed but do not load; still serving the previous certificate", "err", err)
	}
}

// warnIfExpired says so when pair's certificate is out of its validity.
func (c *certificate) warnIfExpired(pair *tls.Certificate) {
	if now := time.Now(); now.After(pair.Leaf.NotAfter) || now.Before(pair.Leaf.NotBefore) {
		c.log.Warn("the TLS certificate is not valid now; clients will refuse it", "cert_file", c.certFile,
			"not_before", pair.Leaf.NotBefore.UTC().Format(time.RFC3339), "not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
}

// read reads both files; its error names the variable of the one that
// can't be read.
func (c *certificate) read() (certPEM, keyPEM []byte, err error) {
	certPEM, certErr := readPEMFile(c.certFile)
	if certErr != nil {
		certErr = fmt.Errorf("PORTCULLIS_TLS_CERT_FILE: %w", certErr)
	}
	keyPEM, keyErr := readPEMFile(c.keyFile)
	if keyErr != nil {
		keyErr = fmt.Errorf("PORTCULLIS_TLS_KEY_FILE: %w", keyErr)
	}
	return certPEM, keyPEM, errors.Join(certErr, keyErr)
}

// readPEMFile reads a certificate or key file of at most maxPEMSize bytes.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", path, pathError(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", path, pathError(err))
	}
	if len(b) > maxPEMSize {
		return nil, fmt.Errorf("%q is larger than %d bytes", path, maxPEMSize)
	}
	return b, nil
}

// pathError is err without the path an *os.PathError repeats.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// keyPair makes a certificate of certPEM and keyPEM, read from certFile
// and keyFile; its error names the variable at fault: TLS_CERT_FILE when
// it holds no certificate, else TLS_KEY_FILE.
func keyPair(certPEM, keyPEM []byte, certFile, keyFile string) (*tls.Certificate, error) {
	if !hasCertificate(certPEM) {
		return nil, fmt.Errorf("PORTCULLIS_TLS_CERT_FILE: %q holds no PEM certificate", certFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("PORTCULLIS_TLS_KEY_FILE: %q does not hold the private key of the certificate in PORTCULLIS_TLS_CERT_FILE: %w", keyFile, err)
	}
	return &pair, nil
}

// hasCertificate reports whether b holds a PEM certificate that parses.
func hasCertificate(b []byte) bool {
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(block.Bytes)
			return err == nil
		}
	}
}

// pairDigest identifies the content of a certificate and key pair.
func pairDigest(certPEM, keyPEM []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// serverTLS is the main listener's TLS configuration, serving cert.
func serverTLS(cfg *config.Config, cert *certificate) *tls.Config {
	return &tls.Config{MinVersion: tlsVersions[cfg.TLSMinVersion], GetCertificate: cert.get}
}

// checkListener loads the TLS certificate and key, for config.Load to
// list their problems with its own.
func checkListener(cfg *config.Config) error {
	if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
		return nil // config has said what is missing
	}
	_, err := newCertificate(cfg.TLSCertFile, cfg.TLSKeyFile, slog.New(slog.DiscardHandler))
	return err
}
