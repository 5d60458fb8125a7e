package transport

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// LoadCAFile reads a PEM bundle of CA certificates (a ca_file) into a
// pool. A file with no certificate in it, or a PEM block that is not a
// valid certificate, is an error naming the file.
func LoadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue // a bundle may carry comments' worth of other blocks
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca_file %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// NewHTTPClient returns the client for enrollment whose transport (and so
// the WebSocket dialer, see NewClient) trusts only the CAs in roots for
// the server's certificate; nil roots means the system's. A non-nil roots
// pins: the system's CAs are then not trusted at all.
func NewHTTPClient(roots *x509.CertPool) *http.Client {
	return NewMutualTLSClient(roots, nil)
}

// NewMutualTLSClient is NewHTTPClient that also presents cert, when not
// nil, to a server that asks for a client certificate, on enrollment and
// on the WebSocket alike.
func NewMutualTLSClient(roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		t.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: t, Timeout: time.Minute}
}

// explainTLS adds what to do to an error from an untrusted server
// certificate.
func explainTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknown) || errors.As(err, &verify) {
		return fmt.Errorf("%w (the server's certificate is not trusted: set ca_file to the PEM file of the CA that signed it)", err)
	}
	return err
}

// LoadClientCert reads the agent's client certificate (cert_file, PEM,
// possibly with its chain) and private key (key_file) for mutual TLS.
func LoadClientCert(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_file %s / key_file %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}
