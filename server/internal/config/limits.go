package config

import (
	"fmt"

	"github.com/steward-project/steward/server/internal/limits"
)

// Limits is the limits: section: caps on connections and rates of
// authentication at the server's HTTP edge (docs/api.md, "Connection
// limits").
type Limits struct {
	// MaxConnections caps open connections; 0 derives it from the open
	// files limit.
	MaxConnections int `yaml:"max_connections"`
	// MaxUnauthenticatedPerIP caps one address's connections that have
	// not authenticated yet; 0 derives it from MaxConnections.
	MaxUnauthenticatedPerIP int `yaml:"max_unauthenticated_per_ip"`
	// APIReserve is how many of MaxConnections agents' WebSockets may not
	// take, kept for API and admin requests; 0 derives it from
	// MaxConnections.
	APIReserve int `yaml:"api_reserve"`
	// FailedAuth is how many failed authentications one address may
	// make; past it, its requests get 429 without their credential
	// being looked at.
	FailedAuth Rate `yaml:"failed_auth"`
	// EnrollSecret, NodeKey and APIToken are how many requests one
	// credential of each kind may make.
	EnrollSecret Rate `yaml:"enroll_secret"`
	NodeKey      Rate `yaml:"node_key"`
	APIToken     Rate `yaml:"api_token"`
}

// Rate is a token bucket: burst events at once, then per_minute a minute.
type Rate struct {
	Burst     int     `yaml:"burst"`
	PerMinute float64 `yaml:"per_minute"`
}

// Limit returns r as the limits package takes it.
func (r Rate) Limit() limits.Rate { return limits.Rate{Burst: r.Burst, PerMinute: r.PerMinute} }

func rateOf(r limits.Rate) Rate { return Rate{Burst: r.Burst, PerMinute: r.PerMinute} }

// DefaultLimits is the limits: section when the file leaves it out.
func DefaultLimits() Limits {
	return Limits{
		FailedAuth:   rateOf(limits.DefaultFailedAuth),
		EnrollSecret: rateOf(limits.DefaultEnrollSecret),
		NodeKey:      rateOf(limits.DefaultNodeKey),
		APIToken:     rateOf(limits.DefaultAPIToken),
	}
}

// validateLimits checks the limits: section and trusted_proxies.
func (c Config) validateLimits() error {
	l := c.Limits
	if l.MaxConnections < 0 {
		return fmt.Errorf("limits.max_connections %d: must be 0 (derive from the open files limit) or more", l.MaxConnections)
	}
	if l.MaxUnauthenticatedPerIP < 0 {
		return fmt.Errorf("limits.max_unauthenticated_per_ip %d: must be 0 (derive from max_connections) or more", l.MaxUnauthenticatedPerIP)
	}
	if l.MaxConnections > 0 && l.MaxUnauthenticatedPerIP > l.MaxConnections {
		return fmt.Errorf("limits.max_unauthenticated_per_ip %d: must not exceed limits.max_connections %d",
			l.MaxUnauthenticatedPerIP, l.MaxConnections)
	}
	if l.APIReserve < 0 {
		return fmt.Errorf("limits.api_reserve %d: must be 0 (derive from max_connections) or more", l.APIReserve)
	}
	if l.MaxConnections > 0 && l.APIReserve >= l.MaxConnections {
		return fmt.Errorf("limits.api_reserve %d: must be below limits.max_connections %d, or agents get no connection",
			l.APIReserve, l.MaxConnections)
	}
	for _, r := range []struct {
		name string
		rate Rate
	}{
		{"limits.failed_auth", l.FailedAuth},
		{"limits.enroll_secret", l.EnrollSecret},
		{"limits.node_key", l.NodeKey},
		{"limits.api_token", l.APIToken},
	} {
		if err := r.rate.Limit().Validate(r.name); err != nil {
			return err
		}
	}
	if _, err := limits.ParsePrefixes(c.TrustedProxies); err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	return nil
}
