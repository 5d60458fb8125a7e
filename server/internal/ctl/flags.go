package ctl

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// DefaultServer is where stewardctl looks without --server or
// STEWARD_SERVER: the address `make run` serves on.
const DefaultServer = "http://127.0.0.1:8080"

// Output formats.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputCSV   = "csv"
)

// globals are the flags every command accepts, before or after its name.
// Their defaults come from the environment.
type globals struct {
	server    string
	token     string
	tokenFile string
	output    string

	// Set on the command line (not from the environment); explicit flags
	// beat the environment.
	tokenSet, tokenFileSet bool
	// serverGiven: --server or STEWARD_SERVER named a server (commands
	// that bake it into something refuse the default).
	serverGiven            bool
	envToken, envTokenFile string
	// tokenFrom names the file the token was read from (resolveToken),
	// so a token the server refuses points at it; empty for a token given
	// directly.
	tokenFrom string
}

func newGlobals(getenv func(string) string) *globals {
	g := &globals{
		server:       getenv("STEWARD_SERVER"),
		envToken:     getenv("STEWARD_TOKEN"),
		envTokenFile: getenv("STEWARD_TOKEN_FILE"),
		output:       outputTable,
	}
	if g.server == "" {
		g.server = DefaultServer
	} else {
		g.serverGiven = true
	}
	return g
}

// register adds the global flags to fs. It is called on the leading flag
// set and again on the command's, with the values parsed so far as the
// defaults, so a flag given before the command survives.
func (g *globals) register(fs *flag.FlagSet) {
	// The usage strings serve shell completion (complete.go); help
	// prints globalsHelp.
	fs.Var(&trackedString{p: &g.server, set: &g.serverGiven}, "server", "Steward server URL")
	fs.Var(&trackedString{p: &g.token, set: &g.tokenSet}, "token", "admin API token")
	fs.Var(&trackedString{p: &g.tokenFile, set: &g.tokenFileSet}, "token-file", "read the token from a file")
	fs.StringVar(&g.output, "o", g.output, "output format: table, json or csv")
	fs.StringVar(&g.output, "output", g.output, "output format: table, json or csv")
}

const globalsHelp = `Global flags (before or after the command):
  --server URL          Steward server (env STEWARD_SERVER, default ` + DefaultServer + `);
                        without a scheme, http:// for a loopback host, else https://
  --token TOKEN         admin API token (env STEWARD_TOKEN)
  --token-file PATH     read the token from a file such as ./data/admin-token
                        (env STEWARD_TOKEN_FILE)
  -o, --output FORMAT   table, json or csv (default table)
`

func (g *globals) validate() error {
	if g.output != outputTable && g.output != outputJSON && g.output != outputCSV {
		return fmt.Errorf("output format %q: want table, json or csv", g.output)
	}
	g.server = withScheme(g.server)
	if g.tokenSet && g.tokenFileSet {
		return errors.New("give --token or --token-file, not both")
	}
	return nil
}

// resolveToken picks the token: a flag over the environment, and a token
// over a token file at the same level.
func (g *globals) resolveToken() (string, error) {
	switch {
	case g.tokenSet:
		if strings.TrimSpace(g.token) == "" {
			return "", &usageError{msg: "--token is empty"}
		}
		return strings.TrimSpace(g.token), nil
	case g.tokenFileSet:
		g.tokenFrom = g.tokenFile + " (--token-file)"
		return readToken(g.tokenFile)
	case g.envToken != "":
		return strings.TrimSpace(g.envToken), nil
	case g.envTokenFile != "":
		g.tokenFrom = g.envTokenFile + " (STEWARD_TOKEN_FILE)"
		return readToken(g.envTokenFile)
	}
	return "", &usageError{msg: "no admin token: pass --token or --token-file (the server writes one to <data-dir>/admin-token), or set STEWARD_TOKEN or STEWARD_TOKEN_FILE"}
}

func readToken(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return token, nil
}

// trackedString is a string flag that records whether it was given.
type trackedString struct {
	p   *string
	set *bool
}

func (s *trackedString) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

func (s *trackedString) Set(v string) error {
	*s.p, *s.set = v, true
	return nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Errors and help are printed by Run, once, in its own words.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseInterspersed parses flags anywhere among the positional arguments,
// which the flag package alone stops at, and returns the positionals.
// Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// withScheme completes a server address given without a scheme, such as
// 127.0.0.1:8080 or steward.example.com: http:// for a loopback host
// (localhost, 127.0.0.0/8, ::1), where `make run` serves plain HTTP, and
// https:// for any other host, so a token never crosses a network in
// clear text by default. An address with a scheme is left as it is.
func withScheme(server string) string {
	if server == "" || strings.Contains(server, "://") {
		return server
	}
	host := server
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if isLoopback(host) {
		return "http://" + server
	}
	return "https://" + server
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
