package ctl

import (
	"fmt"
	"io"
	"strings"
)

// Help and argument mistakes, all generated from the command table
// (commands.go): a group's list, a command's usage, and the nearest
// command to a typo.

// helpWords ask for help in place of a subcommand: "stewardctl hosts
// --help".
func isHelpWord(s string) bool {
	switch s {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// printGroup lists a group's commands with their summaries.
func printGroup(w io.Writer, word string, cmds []*command) {
	fmt.Fprintf(w, "Usage: stewardctl %s COMMAND [flags] [arguments]\n\n", word)
	printCommands(w, cmds)
	fmt.Fprintf(w, "\nRun \"stewardctl help %s COMMAND\" for a command's flags, \"stewardctl help\" for the global flags.\n", word)
}

func groupUsage(word string, cmds []*command) func(io.Writer) {
	return func(w io.Writer) { printGroup(w, word, cmds) }
}

// printHint is the usage shown after a mistake that names no command:
// one line pointing at the list rather than the list itself.
func printHint(w io.Writer) {
	fmt.Fprint(w, "Run \"stewardctl help\" for the commands.\n")
}

// isGroup reports whether word is the first word of two-word commands
// (hosts, policies), as opposed to a one-word command (compliance).
func isGroup(word string) bool {
	for _, c := range group(word) {
		if strings.Contains(c.name, " ") {
			return true
		}
	}
	return false
}

// firstWords are the words a command line can start with, in table order:
// every group and one-word command, and help.
func firstWords() []string {
	seen := map[string]bool{}
	var out []string
	for i := range commands {
		first, _, _ := strings.Cut(commands[i].name, " ")
		if !seen[first] {
			seen[first] = true
			out = append(out, first)
		}
	}
	return append(out, "help")
}

// subWords are the second words of group word's commands.
func subWords(word string) []string {
	var out []string
	for _, c := range group(word) {
		if _, sub, ok := strings.Cut(c.name, " "); ok {
			out = append(out, sub)
		}
	}
	return out
}

// unknownCommand is the error for a command line whose first words name
// no command: one line, with the nearest command when there is one close
// enough, then the group's list for a known group, else a hint.
func unknownCommand(args []string) error {
	if isGroup(args[0]) {
		cmds := group(args[0])
		if len(args) == 1 {
			return &usageError{msg: args[0] + " needs a subcommand", usage: groupUsage(args[0], cmds)}
		}
		msg := fmt.Sprintf("unknown command %q", args[0]+" "+args[1])
		if sub := suggest(args[1], subWords(args[0])); sub != "" {
			msg += fmt.Sprintf("; did you mean %q?", args[0]+" "+sub)
		}
		return &usageError{msg: msg, usage: groupUsage(args[0], cmds)}
	}
	first := suggest(args[0], firstWords())
	if first == "" {
		return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), usage: printHint}
	}
	if isGroup(first) && len(args) > 1 {
		typed := args[0] + " " + args[1]
		sub := suggest(args[1], subWords(first))
		if sub == "" && !isHelpWord(args[1]) {
			// The second word is not near any of the group's: name the
			// group alone.
			return &usageError{msg: fmt.Sprintf("unknown command %q; did you mean %q?", typed, first), usage: printHint}
		}
		if sub != "" {
			return &usageError{msg: fmt.Sprintf("unknown command %q; did you mean %q?", typed, first+" "+sub), usage: printHint}
		}
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q; did you mean %q?", args[0], first), usage: printHint}
}

// help prints the general usage, a group's commands, or one command's
// usage.
func help(w io.Writer, topic []string) error {
	if len(topic) == 0 {
		printUsage(w)
		return nil
	}
	if cmd, n := lookup(topic); cmd != nil && n == len(topic) {
		cmd.printUsage(w)
		return nil
	}
	if len(topic) == 1 && isGroup(topic[0]) {
		printGroup(w, topic[0], group(topic[0]))
		return nil
	}
	msg := fmt.Sprintf("no help for %q", strings.Join(topic, " "))
	if err := unknownCommand(topic); err != nil {
		// Reuse the suggestion, if any.
		if _, hint, ok := strings.Cut(err.Error(), "; "); ok {
			msg += "; " + hint
		}
	}
	return &usageError{msg: msg, usage: printHint}
}

// suggest returns the candidate nearest to typed, or "" when none is
// close enough: within an edit distance that grows with the word (1 up to
// 4 letters, 2 up to 8, else 3), or the only candidate typed is a prefix
// of (3 letters or more). Ties go to the earlier candidate.
func suggest(typed string, candidates []string) string {
	if typed == "" {
		return ""
	}
	limit := 3
	switch n := len([]rune(typed)); {
	case n <= 4:
		limit = 1
	case n <= 8:
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == typed {
			continue
		}
		if d := editDistance(typed, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	if len(typed) >= 3 {
		var prefixed []string
		for _, c := range candidates {
			if strings.HasPrefix(c, typed) {
				prefixed = append(prefixed, c)
			}
		}
		if len(prefixed) == 1 {
			return prefixed[0]
		}
	}
	return ""
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of two neighbouring letters that turn a into b (optimal string
// alignment), so "shwo" is one edit from "show".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j]: distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
