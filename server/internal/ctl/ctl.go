package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/steward-project/steward/server/internal/apiclient"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Env is what Run takes from the process, so tests run in parallel with
// their own environment and outputs.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads the environment; nil means an empty environment.
	Getenv func(string) string
	// HTTPClient sends the API requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock relative times ("--since 24h") count back from;
	// nil means time.Now.
	Now func() time.Time
	// Version is this stewardctl's build version (git describe) and
	// Commits the commit count it was built at; `package` derives the
	// installers' version from them.
	Version string
	Commits int
}

// session is what a command runs with once flags are parsed.
type session struct {
	client *apiclient.Client // nil for local commands
	// server is the --server URL, serverGiven whether --server or
	// STEWARD_SERVER named it (not the default); version and commits are
	// Env's.
	server      string
	serverGiven bool
	version     string
	commits     int
	out         io.Writer
	errOut      io.Writer // for what a command reports beside its error
	output      string    // outputTable, outputJSON or outputCSV
	now         func() time.Time
	// connect, for local commands, makes a client from the global flags
	// when the command wants the server after all (version).
	connect func() (*apiclient.Client, error)
}

// usageError is a command line mistake: exit code 2 and the relevant usage.
type usageError struct {
	msg   string
	usage func(io.Writer) // nil: the general usage
}

func (e *usageError) Error() string { return e.msg }

// Run runs stewardctl with args (without the program name) and returns the
// exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	// Everything printed passes an inertWriter (inert.go): what agents
	// reported cannot act on the terminal, whichever command prints it.
	stdout, stderr := newInertWriter(env.Stdout), newInertWriter(env.Stderr)
	defer stdout.Flush()
	defer stderr.Flush()
	env.Stdout, env.Stderr = stdout, stderr
	err := run(ctx, args, env)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "stewardctl: %s\n\n", ue.msg)
		if ue.usage != nil {
			ue.usage(env.Stderr)
		} else {
			printUsage(env.Stderr)
		}
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "stewardctl: %s\n", describe(err))
	return ExitError
}

func run(ctx context.Context, args []string, env Env) error {
	g := newGlobals(env.Getenv)
	fs := newFlagSet("stewardctl")
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		return helpOr(err, env.Stdout, printUsage)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return &usageError{msg: "no command given"}
	}
	if rest[0] == "help" {
		return help(env.Stdout, rest[1:])
	}
	cmd, words := lookup(rest)
	if cmd == nil {
		if len(rest) > 1 && isGroup(rest[0]) && isHelpWord(rest[1]) {
			printGroup(env.Stdout, rest[0], group(rest[0]))
			return nil
		}
		return unknownCommand(rest)
	}
	err := runCommand(ctx, cmd, rest[words:], g, env)
	// A mistake found once the command runs (a bad --limit) shows that
	// command's usage, not the whole list.
	var ue *usageError
	if errors.As(err, &ue) && ue.usage == nil {
		ue.usage = cmd.printUsage
	}
	return err
}

func runCommand(ctx context.Context, cmd *command, args []string, g *globals, env Env) error {

	cfs := newFlagSet("stewardctl " + cmd.name)
	g.register(cfs)
	runCmd := cmd.setup(cfs)
	usage := cmd.printUsage
	pos, err := parseInterspersed(cfs, args)
	if err != nil {
		return helpOr(err, env.Stdout, usage)
	}
	if msg := cmd.argCountProblem(len(pos)); msg != "" {
		return &usageError{msg: msg, usage: usage}
	}
	if err := g.validate(); err != nil {
		return &usageError{msg: err.Error(), usage: usage}
	}
	connect := func() (*apiclient.Client, error) {
		token, err := g.resolveToken()
		if err != nil {
			return nil, err
		}
		client, err := apiclient.New(g.server, token, env.HTTPClient)
		if err != nil {
			return nil, &usageError{msg: err.Error(), usage: usage}
		}
		return client, nil
	}
	if cmd.local {
		// Local commands print no lists: -o csv leaves them as they are.
		err := runCmd(ctx, &session{server: g.server, serverGiven: g.serverGiven, version: env.Version, commits: env.Commits,
			out: env.Stdout, errOut: env.Stderr, output: g.output, now: env.Now, connect: connect}, pos)
		return tokenFileRefused(err, g.tokenFrom)
	}
	client, err := connect()
	if err != nil {
		return err
	}
	var out io.Writer = env.Stdout
	if g.output == outputCSV {
		out = &csvSink{out: env.Stdout, notes: env.Stderr}
	}
	err = runCmd(ctx, &session{client: client, out: out, errOut: env.Stderr, output: g.output, now: env.Now}, pos)
	return tokenFileRefused(err, g.tokenFrom)
}

// tokenRefusedError is a 401 for a token read from a file: the error
// names the file.
type tokenRefusedError struct {
	from string // the path, and the flag or variable that named it
	err  error
}

func (e *tokenRefusedError) Error() string { return e.err.Error() }
func (e *tokenRefusedError) Unwrap() error { return e.err }

func tokenFileRefused(err error, from string) error {
	var se *apiclient.StatusError
	if from != "" && errors.As(err, &se) && se.Status == http.StatusUnauthorized {
		return &tokenRefusedError{from: from, err: err}
	}
	return err
}

// helpOr turns -h into printed help and any other flag error into a usage
// error.
func helpOr(err error, stdout io.Writer, usage func(io.Writer)) error {
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return err
	}
	return &usageError{msg: err.Error(), usage: usage}
}

// describe says what went wrong and, where it is the usual cause, what to
// check.
func describe(err error) string {
	var se *apiclient.StatusError
	var ce *apiclient.ConnError
	var tr *tokenRefusedError
	switch {
	case errors.As(err, &tr):
		return fmt.Sprintf("the server refused the token read from %s (401): check that the file holds a current API token", escapeText(tr.from, false))
	case errors.As(err, &se) && se.Status == http.StatusUnauthorized:
		return "the server refused the token (401): check --token or STEWARD_TOKEN"
	case errors.As(err, &se):
		return fmt.Sprintf("%s (%d from %s %s)", se.Message, se.Status, se.Method, se.Path)
	case errors.As(err, &ce):
		return fmt.Sprintf("cannot reach the server at %s: %v (is it running? check --server or STEWARD_SERVER)", ce.URL, ce.Err)
	}
	return err.Error()
}
