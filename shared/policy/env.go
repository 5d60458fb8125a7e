package policy

import (
	"context"
	"errors"
	"io/fs"

	"github.com/steward-project/steward/shared/inventory"
)

// Env is what the leaves of a check tree need from the system they check.
// The evaluator owns the logic (globs expanded, regexes run, versions
// compared, limits enforced); an Env only fetches facts, so the agent's
// live Env, the server's InventoryEnv and test fakes answer the same
// questions the same way.
//
// A method that cannot answer in this Env returns an error wrapping
// ErrUnavailable (with the reason); a missing file, registry key or value
// wraps ErrNotFound. Every method must honour ctx.
type Env interface {
	// Platform is the checked host's platform: "linux", "windows" or "darwin".
	Platform() string

	// Glob returns the paths on the checked system that match pattern
	// (filepath.Match syntax), sorted; none is not an error.
	Glob(ctx context.Context, pattern string) ([]string, error)
	// Stat describes the file at path, following symbolic links.
	Stat(ctx context.Context, path string) (FileStat, error)
	// ReadFile returns a regular file's content. A file longer than limit
	// bytes is an error wrapping ErrFileTooLarge.
	ReadFile(ctx context.Context, path string, limit int64) ([]byte, error)

	// Packages, Services and Ports return the matching inventory sections.
	Packages(ctx context.Context) ([]inventory.Package, error)
	Services(ctx context.Context) ([]inventory.Service, error)
	Ports(ctx context.Context) ([]inventory.Port, error)

	// Registry returns a Windows registry value as text (numbers in
	// decimal, multi-strings joined by newlines, binary data in hex).
	// With name "" it only reports whether key exists, returning "".
	Registry(ctx context.Context, key, name string) (string, error)

	// Run runs argv and waits for it until ctx is done, killing it (and
	// on Unix its process group) then. Output is stdout and stderr
	// interleaved; more than outputLimit bytes is an error wrapping
	// ErrOutputLimit. A non-zero exit status is not an error: it is
	// reported in CommandResult.ExitCode.
	Run(ctx context.Context, argv []string, outputLimit int) (CommandResult, error)

	// Inventory returns the inventory document's sections decoded as
	// JSON values ("os" -> map[string]any, ...), the value CEL
	// expressions see as `inventory`. Callers must not modify it.
	Inventory(ctx context.Context) (map[string]any, error)
}

// FileStat is what file leaves need to know about one file.
type FileStat struct {
	// Mode holds the file type bits and, when HasPerm, the permissions
	// (including fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky).
	Mode fs.FileMode
	// HasPerm is false where permission bits mean nothing (Windows).
	HasPerm bool
	Size    int64
	// Owner is the owning account's name, "" when it has none on record.
	Owner string
	// OwnerID is the numeric uid, or a Windows SID.
	OwnerID string
	// Group is the owning group's name, "" when it has none on record or
	// the platform has no file groups (Windows).
	Group string
	// GroupID is the numeric gid, "" where there is none.
	GroupID string
}

// LinkEnv is implemented by an Env that can look at symbolic links
// themselves rather than what they point to (systemd's enablement and
// masking are links; a file leaf's type: symlink needs it). An Env without
// it answers such leaves with ErrUnavailable.
type LinkEnv interface {
	// Lstat describes the file at path without following a final
	// symbolic link.
	Lstat(ctx context.Context, path string) (FileStat, error)
	// Readlink returns a symbolic link's target as written.
	Readlink(ctx context.Context, path string) (string, error)
}

// CommandResult is what a command printed and how it ended.
type CommandResult struct {
	ExitCode int
	Output   []byte
}

// Errors an Env wraps so that the evaluator (and callers) can tell why a
// leaf could not be evaluated.
var (
	// ErrUnavailable: this Env cannot answer the leaf at all (a file leaf
	// against stored inventory, the registry on Linux).
	ErrUnavailable = errors.New("not available here")
	// ErrNotFound: the file, registry key or value does not exist.
	ErrNotFound = errors.New("not found")
	// ErrFileTooLarge: a file is longer than the read limit.
	ErrFileTooLarge = errors.New("file too large")
	// ErrOutputLimit: a command printed more than the output limit.
	ErrOutputLimit = errors.New("output limit exceeded")
	// ErrCommandsDisabled: command leaves are refused because the agent's
	// local configuration does not set allow_commands: true.
	ErrCommandsDisabled = errors.New("commands are disabled: the agent's local config does not set allow_commands: true")
)

// ContentKind names what a piece of content evidence would quote.
type ContentKind string

// Kinds of content evidence may quote.
const (
	// ContentFile: a line of a file (name is its path).
	ContentFile ContentKind = "file"
	// ContentRegistry: a registry value (name is KEY\value).
	ContentRegistry ContentKind = "registry"
	// ContentCommand: a command's output (name is the program run).
	ContentCommand ContentKind = "command"
)

// ContentGate is implemented by an Env that lets evidence quote what a
// leaf read. Evidence travels to the server and is kept there, so by
// default it quotes nothing a leaf read: a file leaf reports the line
// number that matched, a registry leaf whether the value matched, a
// command leaf how many bytes it printed. An Env that does not implement
// ContentGate never has content quoted.
type ContentGate interface {
	// MayQuote reports whether evidence may quote data, read from the
	// source name of the given kind.
	MayQuote(kind ContentKind, name string, data []byte) bool
}

// mayQuote asks env's ContentGate, if it has one.
func mayQuote(env Env, kind ContentKind, name string, data []byte) bool {
	g, ok := env.(ContentGate)
	return ok && g.MayQuote(kind, name, data)
}
