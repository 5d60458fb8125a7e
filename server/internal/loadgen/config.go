package loadgen

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is one load run.
type Config struct {
	// Server is the server's base URL, http or https.
	Server string
	// Agents is how many agents to simulate.
	Agents int
	// Duration is the steady phase's length; 0 stops after the connect phase.
	Duration time.Duration
	// EnrollSecret enrolls agents the state file does not already hold.
	EnrollSecret string
	// Packages is each host's software package count.
	Packages int
	// Heartbeat is each agent's heartbeat interval in the steady phase.
	Heartbeat time.Duration
	// Warmup is the steady phase's first part, before Duration: agents
	// send as they will, but the latency and the rate leave it out (the
	// windows of LatencyByWindow keep it). After a connect storm the
	// server evaluates every host that reconnected; this keeps that
	// transient apart from what it sustains.
	Warmup time.Duration
	// Linger keeps the agents connected and sending after Duration, this
	// long, before they close: what they send then is left out of the
	// latency and the rate (the windows of LatencyByWindow keep it). With
	// several generators on one server, one's teardown of its thousands
	// of connections then falls outside the others' measured phases.
	Linger time.Duration
	// InventoryEvery, when above 0, makes each agent send an unchanged
	// inventory (digest only) at this interval in the steady phase.
	InventoryEvery time.Duration
	// Concurrency bounds enrollments and connection handshakes in flight.
	Concurrency int
	// StateFile, when set, keeps node keys between runs.
	StateFile string
	// SourceIPs are local addresses the agents' connections are spread
	// over, round robin, to get past one address's ephemeral ports.
	SourceIPs []net.IP
	// ConnectTimeout bounds the connect phase: how long to wait for every
	// agent's first inventory to be acknowledged.
	ConnectTimeout time.Duration
	// Insecure skips TLS certificate verification (test servers).
	Insecure bool
	// NoCompression does not offer per-message deflate, so the server
	// sends every frame as it is and the generator inflates nothing: for
	// measuring the server's fan-out of large frames (policy sets) to a
	// fleet whose decompression would otherwise take the generator's CPU.
	NoCompression bool
	// CPUProfile, when set, is where Main writes the generator's CPU
	// profile of the whole run.
	CPUProfile string
	// RunID names this run in hostnames; empty picks a random one.
	RunID string
	// Results is what each agent reports for every policy of a policy_set
	// it receives: ResultsNone (nothing, the default), ResultsFail or
	// ResultsPass.
	Results string
	// AlertReceiver, when set, is a host:port on which a generic webhook
	// receiver runs and matches trigger notifications to the results the
	// agents sent, measuring result-to-notification latency.
	AlertReceiver string
	// AlertSecret, when set, is the webhook's HMAC secret: deliveries
	// without a valid X-Steward-Signature are refused and counted.
	AlertSecret string
	// ProgressEvery is how often progress is logged; 0 means 10 s.
	ProgressEvery time.Duration
	Logger        *slog.Logger
}

// Defaults for the command's flags.
const (
	DefaultPackages       = 500
	DefaultHeartbeat      = time.Second
	DefaultConcurrency    = 200
	DefaultConnectTimeout = 10 * time.Minute
)

// Values of Config.Results.
const (
	ResultsNone = "none"
	ResultsFail = "fail"
	ResultsPass = "pass"
)

// Validate checks the configuration and fills in what may be left empty.
func (c *Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.Server)
	switch {
	case c.Server == "":
		errs = append(errs, errors.New("--server is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("--server: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("--server %q: scheme must be http or https", c.Server))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("--server %q: no host", c.Server))
	}
	if c.Agents < 1 {
		errs = append(errs, fmt.Errorf("--agents must be at least 1, not %d", c.Agents))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("--duration must not be negative"))
	}
	if c.Linger < 0 {
		errs = append(errs, fmt.Errorf("--linger must not be negative"))
	}
	if c.Packages < 0 || c.Packages > 100000 {
		errs = append(errs, fmt.Errorf("--packages must be between 0 and 100000, not %d", c.Packages))
	}
	if c.Heartbeat <= 0 {
		errs = append(errs, fmt.Errorf("--heartbeat must be above 0"))
	}
	if c.InventoryEvery < 0 {
		errs = append(errs, fmt.Errorf("--inventory-every must not be negative"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("--concurrency must be at least 1, not %d", c.Concurrency))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("--connect-timeout must not be negative"))
	}
	switch c.Results {
	case "", ResultsNone, ResultsFail, ResultsPass:
	default:
		errs = append(errs, fmt.Errorf("--results must be fail, pass or none, not %q", c.Results))
	}
	if c.AlertReceiver != "" {
		if _, _, err := net.SplitHostPort(c.AlertReceiver); err != nil {
			errs = append(errs, fmt.Errorf("--alert-receiver %q: want host:port (e.g. 127.0.0.1:9099): %w", c.AlertReceiver, err))
		}
	} else if c.AlertSecret != "" {
		errs = append(errs, errors.New("--alert-secret needs --alert-receiver"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.Results == "" {
		c.Results = ResultsNone
	}
	c.Server = strings.TrimRight(c.Server, "/")
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RunID == "" {
		var b [3]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
		c.RunID = hex.EncodeToString(b[:])
	}
	return nil
}

// ParseSourceIPs reads a comma-separated list of IP addresses.
func ParseSourceIPs(s string) ([]net.IP, error) {
	var ips []net.IP
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ip := net.ParseIP(f)
		if ip == nil {
			return nil, fmt.Errorf("source address %q is not an IP address", f)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}
