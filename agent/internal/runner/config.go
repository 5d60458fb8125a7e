package runner

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// Config is what Run needs. The zero value of every optional field picks
// the documented default.
type Config struct {
	// ServerURL is the server's base URL, http or https.
	ServerURL string
	// EnrollSecret is used when the state dir holds no node key, and to
	// enroll again when the server refuses the key. Optional once enrolled.
	EnrollSecret string
	// StateDir holds the node key and state.json.
	StateDir string
	// AgentVersion is reported in hello.
	AgentVersion string
	// Hostname is reported at enrollment and in hello; empty means
	// os.Hostname().
	Hostname string
	// Labels are asked for at enrollment (the config's labels).
	Labels map[string]string
	// Collect gathers one inventory document. It must honour ctx.
	Collect func(ctx context.Context) inventory.Document
	// InventoryInterval and HeartbeatInterval override the schedule the
	// server sends in welcome; 0 means use the server's.
	InventoryInterval time.Duration
	HeartbeatInterval time.Duration
	// CheckInterval is how often the policy set is evaluated besides the
	// other triggers (a new set, check_now, each inventory); 0 means 1 h.
	// Each wait is jittered by ±10 %.
	CheckInterval time.Duration
	// Root is the file system root that file leaves read under; "" is the
	// live machine.
	Root string
	// AllowCommands permits command leaves. It must come only from the
	// agent's local config, never from the server.
	AllowCommands bool
	// PolicyKeys, when set, are the only keys policy sets may be signed
	// with: a set without a valid, unexpired signature newer than the
	// last accepted one is refused. Like AllowCommands they must come only
	// from the agent's local config.
	PolicyKeys []ed25519.PublicKey
	// EvidenceContent lists the paths whose content evidence may quote. It
	// must come only from the agent's local config, never from the server.
	EvidenceContent []string
	// Logger receives the runner's logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient is used for enrollment, and its *http.Transport's TLS,
	// proxy and dial settings for the WebSocket; nil means a default client.
	HTTPClient *http.Client
}

// Validate reports the first missing or malformed field.
func (c Config) Validate() error {
	u, err := url.Parse(c.ServerURL)
	switch {
	case c.ServerURL == "":
		return errors.New("config: server url is empty")
	case err != nil:
		return fmt.Errorf("config: server url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("config: server url %q: scheme must be http or https", c.ServerURL)
	case u.Host == "":
		return fmt.Errorf("config: server url %q: no host", c.ServerURL)
	case c.StateDir == "":
		return errors.New("config: state dir is empty")
	case c.AgentVersion == "":
		return errors.New("config: agent version is empty")
	case c.Collect == nil:
		return errors.New("config: no collect function")
	case c.InventoryInterval < 0 || c.HeartbeatInterval < 0 || c.CheckInterval < 0:
		return errors.New("config: intervals must not be negative")
	}
	return nil
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() (Config, error) {
	if c.CheckInterval == 0 {
		c.CheckInterval = defaultCheck
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: time.Minute}
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("hostname: %w", err)
		}
		c.Hostname = h
	}
	return c, nil
}
