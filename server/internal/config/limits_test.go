package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/limits"
)

func TestLoadLimits(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "steward.yaml")
	os.WriteFile(file, []byte(`limits:
  max_connections: 5000
  max_unauthenticated_per_ip: 100
  api_reserve: 50
  failed_auth: {burst: 10}
  api_token: {burst: 50, per_minute: 600}
trusted_proxies: [10.0.0.0/8, 192.0.2.7]
`), 0o600)
	c, err := Load("serve", []string{"--config", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.MaxConnections != 5000 || l.MaxUnauthenticatedPerIP != 100 || l.APIReserve != 50 ||
		l.FailedAuth != (Rate{Burst: 10, PerMinute: limits.DefaultFailedAuth.PerMinute}) ||
		l.APIToken != (Rate{Burst: 50, PerMinute: 600}) || l.EnrollSecret.Limit() != limits.DefaultEnrollSecret {
		t.Errorf("limits %+v", l)
	}
	if strings.Join(c.TrustedProxies, ",") != "10.0.0.0/8,192.0.2.7" {
		t.Errorf("trusted_proxies %v", c.TrustedProxies)
	}
	c, err = Load("serve", nil, env(nil), io.Discard)
	if err != nil || c.Limits != DefaultLimits() || c.Limits.NodeKey.Limit() != limits.DefaultNodeKey || c.Limits.MaxConnections != 0 ||
		c.Limits.APIReserve != 0 {
		t.Errorf("defaults %+v, %v", c.Limits, err)
	}
}

func TestLoadLimitsRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"limits: {max_connections: -1}\n", "limits.max_connections -1: must be 0"},
		{"limits: {max_unauthenticated_per_ip: -3}\n", "limits.max_unauthenticated_per_ip -3: must be 0"},
		{"limits: {max_connections: 10, max_unauthenticated_per_ip: 11}\n", "must not exceed limits.max_connections 10"},
		{"limits: {api_reserve: -1}\n", "limits.api_reserve -1: must be 0"},
		{"limits: {max_connections: 100, api_reserve: 100}\n", "limits.api_reserve 100: must be below limits.max_connections 100"},
		{"limits: {api_reserve: lots}\n", "steward.yaml:1: cannot unmarshal"},
		{"limits: {failed_auth: {burst: 0}}\n", "limits.failed_auth.burst 0: must be at least 1"},
		{"limits: {node_key: {per_minute: 0}}\n", "limits.node_key.per_minute 0: must be a number above 0"},
		{"limits: {enroll_secret: {per_minute: -5}}\n", "limits.enroll_secret.per_minute -5"},
		{"limits: {api_tokens: {burst: 1}}\n", "unknown key api_tokens"},
		{"trusted_proxies: [10.0.0.0/8, 10.0.0/8]\n", `trusted_proxies: entry 1 "10.0.0/8": not an IP address or CIDR`},
		{"trusted_proxies: 10.0.0.0/8\n", "steward.yaml:1: cannot unmarshal"},
	} {
		file := filepath.Join(dir, "steward.yaml")
		os.WriteFile(file, []byte(tc.yaml), 0o600)
		_, err := Load("serve", []string{"--config", file}, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.want)
		}
	}
}
