package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadClientTLSAndReadiness(t *testing.T) {
	c, err := Load("serve", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Readiness.CommitFailures != 3 || c.TLSClientAuth != "" {
		t.Errorf("defaults: readiness %+v, tls_client_auth %q", c.Readiness, c.TLSClientAuth)
	}
	file := filepath.Join(t.TempDir(), "steward.yaml")
	os.WriteFile(file, []byte("tls_cert: c.pem\ntls_key: k.pem\ntls_client_ca: ca.pem\ntls_client_auth: require\nreadiness:\n  commit_failures: 5\n"), 0o600)
	c, err = Load("serve", []string{"--config", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLSClientCA != "ca.pem" || c.TLSClientAuth != ClientAuthRequire || c.Readiness.CommitFailures != 5 {
		t.Errorf("from the file: %q %q %+v", c.TLSClientCA, c.TLSClientAuth, c.Readiness)
	}
	c, err = Load("serve", []string{"--config", file, "--tls-client-auth", "request"},
		env(map[string]string{"STEWARD_TLS_CLIENT_CA": "other.pem"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLSClientCA != "other.pem" || c.TLSClientAuth != ClientAuthRequest {
		t.Errorf("flag and variable over the file: %q %q", c.TLSClientCA, c.TLSClientAuth)
	}

	for name, args := range map[string][]string{
		"unknown mode":          {"--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca", "--tls-client-auth", "always"},
		"require without ca":    {"--tls-cert", "c", "--tls-key", "k", "--tls-client-auth", "require"},
		"require without tls":   {"--tls-client-ca", "ca", "--tls-client-auth", "require"},
		"ca with auth none":     {"--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca"},
		"ca with explicit none": {"--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca", "--tls-client-auth", "none"},
	} {
		if _, err := Load("serve", args, env(nil), io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("readiness:\n  commit_failures: -1\n"), 0o600)
	if _, err := Load("serve", []string{"--config", bad}, env(nil), io.Discard); err == nil {
		t.Error("negative readiness.commit_failures accepted")
	}
}
