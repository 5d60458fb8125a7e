package check

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// Config says what the live Env may look at and do.
type Config struct {
	// Root is the file system root that file leaves read under; "" or "/"
	// is the live machine. With another root, commands are refused: they
	// would run on this machine, not on the image.
	Root string
	// AllowCommands permits command leaves. It comes only from the agent's
	// local config file (allow_commands: true), never from a server.
	AllowCommands bool
	// EvidenceContent lists the paths whose content evidence may quote
	// (see liveEnv.MayQuote). It comes only from the agent's local config
	// file (evidence_content), never from a server.
	EvidenceContent []string
	// ExprAnswers answers expr leaves: the agent links no CEL engine, the
	// server evaluates them against the host's stored inventory. Nil
	// leaves every verdict that needs one open (policy.StatusNeedsServer).
	ExprAnswers policy.ExprAnswerer
}

// NewEnv returns the Env for this machine: files under cfg.Root, packages,
// services and ports from doc (the inventory just collected, so that a
// check and the inventory agree), the registry on Windows, commands only
// when cfg.AllowCommands. ctx is not retained.
func NewEnv(ctx context.Context, cfg Config, doc inventory.Document) policy.Env {
	root := cfg.Root
	if root != "" {
		root = filepath.Clean(root)
	}
	if root == string(filepath.Separator) {
		root = ""
	}
	return &liveEnv{
		Env:             policy.InventoryEnv(doc, runtime.GOOS),
		root:            root,
		allowCommands:   cfg.AllowCommands,
		evidenceContent: cleanPatterns(cfg.EvidenceContent),
		exprAnswers:     cfg.ExprAnswers,
	}
}

// ExprAnswer answers an expr leaf from the server's answers, if any.
func (e *liveEnv) ExprAnswer(id, path string) (policy.ExprAnswer, bool) {
	if e.exprAnswers == nil {
		return policy.ExprAnswer{}, false
	}
	return e.exprAnswers.ExprAnswer(id, path)
}

// cleanPatterns cleans the evidence_content globs, keeping a trailing **.
func cleanPatterns(patterns []string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if dir, ok := strings.CutSuffix(p, "**"); ok {
			out = append(out, filepath.Join(filepath.Clean(dir), "**"))
			continue
		}
		out = append(out, filepath.Clean(p))
	}
	return out
}

// liveEnv answers packages, services and ports from the embedded
// inventory Env, files, registry and commands from the machine, and expr
// leaves from the server's answers (Config.ExprAnswers).
type liveEnv struct {
	policy.Env
	root          string // "" for the live file system
	allowCommands bool
	// evidenceContent: the local evidence_content globs.
	evidenceContent []string
	exprAnswers     policy.ExprAnswerer

	accounts     sync.Once
	accountNames map[string]string // uid -> name from root's /etc/passwd
	groupNames   map[string]string // gid -> name from root's /etc/group

	facts memo[policy.Facts] // Facts, on Linux
}
