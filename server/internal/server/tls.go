package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/metrics"
)

// serverTLS is how the server terminates TLS: the certificate, read at
// start and again on SIGHUP, swapped whole so that every handshake sees
// one consistent pair; and which agents need a client certificate.
type serverTLS struct {
	certFile, keyFile string
	log               *slog.Logger
	m                 *metrics.Metrics

	cert atomic.Pointer[tls.Certificate]

	// clientCAs, when set, verifies every client certificate presented;
	// requireAgentCert makes the agent routes refuse clients without one.
	clientCAs        *x509.CertPool
	requireAgentCert bool
}

// newServerTLS reads the certificate, its key and the client CA named by
// cfg, and exports the certificate's expiry. A file that cannot be used
// stops the server at start.
func newServerTLS(cfg config.Config, log *slog.Logger, m *metrics.Metrics) (*serverTLS, error) {
	s := &serverTLS{certFile: cfg.TLSCert, keyFile: cfg.TLSKey, log: log, m: m}
	cert, err := loadKeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, err
	}
	s.cert.Store(cert)
	m.RegisterTLSExpiry(cert.Leaf.NotAfter)
	if cfg.TLSClientCA != "" {
		data, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls client CA: %w", err)
		}
		s.clientCAs = x509.NewCertPool()
		if !s.clientCAs.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("tls client CA %s: no certificate in the PEM file", cfg.TLSClientCA)
		}
		s.requireAgentCert = cfg.TLSClientAuth == config.ClientAuthRequire
	}
	return s, nil
}

// loadKeyPair reads a certificate chain and its private key, checking
// that they belong together. The leaf is the first CERTIFICATE block;
// other blocks (parameters some bundles carry) are skipped.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls certificate %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

// config is the listener's TLS configuration. A client certificate is
// asked for only with a client CA, and verified whenever one is
// presented, whatever the route: a client that offers a certificate the
// CA did not sign fails the handshake. Whether a route needs one is
// decided per request (agentRoutes), since the admin API, /healthz,
// /readyz and /metrics serve clients without.
func (s *serverTLS) config() *tls.Config {
	c := &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
	}
	if s.clientCAs != nil {
		c.ClientAuth = tls.VerifyClientCertIfGiven
		c.ClientCAs = s.clientCAs
	}
	return c
}

// reload reads the certificate and key again and puts them in place for
// new handshakes. A pair that cannot be read, does not parse or does not
// match is refused, logged, and the serving certificate stays.
func (s *serverTLS) reload(by string) error {
	cert, err := loadKeyPair(s.certFile, s.keyFile)
	if err != nil {
		s.log.Error("TLS certificate reload refused; the previous certificate stays", "by", by, "err", err)
		return err
	}
	s.cert.Store(cert)
	s.m.TLSCertExpiry.Set(float64(cert.Leaf.NotAfter.Unix()))
	s.log.Info("TLS certificate reloaded", "by", by, "file", s.certFile,
		"serial", cert.Leaf.SerialNumber.String(), "not_after", cert.Leaf.NotAfter)
	return nil
}

// watchHUP reloads the certificate at every SIGHUP until stop is called.
// The alerting configuration listens to the same signal on its own.
func (s *serverTLS) watchHUP() (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-hup:
				_ = s.reload("SIGHUP") // a refusal is logged there
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}

// agentRoutes guards the agent endpoints (enroll and the WebSocket),
// which h serves: with tls_client_auth require, a request without a
// certificate verified against the client CA is refused with 403 before
// it reaches them. 403 rather than 401: the node key is not at fault,
// and an agent must not drop it.
func (s *serverTLS) agentRoutes(h http.Handler) http.Handler {
	if s == nil || !s.requireAgentCert {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			s.log.Warn("agent request refused: no client certificate", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "client certificate required"})
			return
		}
		h.ServeHTTP(w, r)
	})
}
