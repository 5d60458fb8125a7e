package config

import (
	"errors"
	"fmt"
)

// Values of tls_client_auth.
const (
	// ClientAuthNone asks no client for a certificate; it is what an
	// empty value means.
	ClientAuthNone = "none"
	// ClientAuthRequest verifies a certificate an agent presents against
	// tls_client_ca, and lets agents without one in.
	ClientAuthRequest = "request"
	// ClientAuthRequire lets agents in only with a certificate that
	// chains to tls_client_ca. The admin API, /healthz, /readyz and
	// /metrics never need one.
	ClientAuthRequire = "require"
)

// Readiness tunes /readyz.
type Readiness struct {
	// CommitFailures is how many ingest commits in a row must fail for
	// /readyz to answer 503 (0: never for that reason); the next commit
	// that succeeds makes it ready again.
	CommitFailures int `yaml:"commit_failures"`
}

func (c Config) validateClientTLS() error {
	switch c.TLSClientAuth {
	case "", ClientAuthNone:
	case ClientAuthRequest, ClientAuthRequire:
		if c.TLSCert == "" {
			return fmt.Errorf("tls-client-auth %s needs tls-cert and tls-key: client certificates come with TLS", c.TLSClientAuth)
		}
		if c.TLSClientCA == "" {
			return fmt.Errorf("tls-client-auth %s needs tls-client-ca, the CA agents' certificates must chain to", c.TLSClientAuth)
		}
	default:
		return fmt.Errorf("tls-client-auth %q: want none, request or require", c.TLSClientAuth)
	}
	if c.TLSClientCA != "" && (c.TLSClientAuth == "" || c.TLSClientAuth == ClientAuthNone) {
		return errors.New("tls-client-ca is set but tls-client-auth is none: say request or require")
	}
	if c.Readiness.CommitFailures < 0 {
		return fmt.Errorf("readiness.commit_failures %d: must be 0 (off) or more", c.Readiness.CommitFailures)
	}
	return nil
}
