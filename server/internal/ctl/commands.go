package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// runFunc runs a parsed command with its positional arguments.
type runFunc func(ctx context.Context, s *session, args []string) error

// command is one entry of the command table. setup registers the
// command's own flags and returns the function that runs it with their
// values, so each command keeps its flags to itself.
type command struct {
	name    string   // words typed, e.g. "hosts list"
	args    []string // positional argument names, e.g. ["ID"]
	summary string
	setup   func(fs *flag.FlagSet) runFunc
}

// commands is every command, in the order usage lists them. New commands
// (policies, compliance, alerts, ...) are one entry each here.
var commands = []command{
	{
		name:    "hosts list",
		summary: "list every host, following pages",
		setup: func(fs *flag.FlagSet) runFunc {
			limit := fs.Int("limit", 100, "hosts per request, 1 to 1000")
			return func(ctx context.Context, s *session, _ []string) error {
				return hostsList(ctx, s, *limit)
			}
		},
	},
	{
		name:    "hosts show",
		args:    []string{"ID"},
		summary: "show one host and a summary of its inventory",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return hostsShow(ctx, s, args[0])
			}
		},
	},
	{
		name:    "hosts changes",
		args:    []string{"ID"},
		summary: "show a host's inventory changes, newest first",
		setup: func(fs *flag.FlagSet) runFunc {
			var f changeFilter
			fs.Var(&f.kinds, "kind", "only this kind of change (repeatable), e.g. software_installed")
			fs.StringVar(&f.since, "since", "", "only changes since a time: RFC 3339, or a duration back from now (24h, 7d)")
			fs.StringVar(&f.until, "until", "", "only changes before a time: RFC 3339, or a duration back from now")
			fs.StringVar(&f.subject, "subject", "", "only changes of this exact subject, e.g. openssl or tcp/22")
			limit := fs.Int("limit", 100, "changes per request, 1 to 1000")
			return func(ctx context.Context, s *session, args []string) error {
				return hostsChanges(ctx, s, args[0], f, *limit)
			}
		},
	},
	{
		name:    "software search",
		args:    []string{"NAME"},
		summary: "find the hosts that have a package (exact name)",
		setup: func(fs *flag.FlagSet) runFunc {
			version := fs.String("version", "", "only this exact version")
			limit := fs.Int("limit", 100, "results per request, 1 to 1000")
			return func(ctx context.Context, s *session, args []string) error {
				return softwareSearch(ctx, s, args[0], *version, *limit)
			}
		},
	},
}

// lookup finds the command named by the first one or two words of args
// and says how many words it took.
func lookup(args []string) (*command, int) {
	for n := min(2, len(args)); n >= 1; n-- {
		name := strings.Join(args[:n], " ")
		for i := range commands {
			if commands[i].name == name {
				return &commands[i], n
			}
		}
	}
	return nil, 0
}

// group lists the commands whose first word is word.
func group(word string) []*command {
	var out []*command
	for i := range commands {
		if first, _, _ := strings.Cut(commands[i].name, " "); first == word {
			out = append(out, &commands[i])
		}
	}
	return out
}

func unknownCommand(args []string) error {
	if cmds := group(args[0]); len(cmds) > 0 {
		msg := args[0] + " needs a subcommand"
		if len(args) > 1 {
			msg = fmt.Sprintf("unknown command %q", args[0]+" "+args[1])
		}
		return &usageError{msg: msg, usage: func(w io.Writer) { printCommands(w, cmds) }}
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", args[0])}
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
	if cmds := group(topic[0]); len(cmds) > 0 && len(topic) == 1 {
		printCommands(w, cmds)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("no help for %q", strings.Join(topic, " "))}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: stewardctl [global flags] COMMAND [flags] [arguments]\n\n")
	printCommands(w, nil)
	fmt.Fprint(w, "\n"+globalsHelp+"\nRun \"stewardctl help COMMAND\" for a command's flags.\n")
}

// printCommands lists cmds, or every command when cmds is nil.
func printCommands(w io.Writer, cmds []*command) {
	if cmds == nil {
		for i := range commands {
			cmds = append(cmds, &commands[i])
		}
	}
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", c.synopsis(), c.summary)
	}
	tw.Flush()
}

func (c *command) synopsis() string {
	return strings.TrimSpace(c.name + " " + strings.Join(c.args, " "))
}

func (c *command) printUsage(w io.Writer) {
	fs := newFlagSet(c.name)
	c.setup(fs)
	nflags := 0
	fs.VisitAll(func(*flag.Flag) { nflags++ })

	fmt.Fprintf(w, "Usage: stewardctl %s [flags]\n\n%s.\n", c.synopsis(), capitalize(c.summary))
	if nflags > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(tw, "  --%s\t%s%s\n", f.Name, f.Usage, def)
		})
		tw.Flush()
	}
	fmt.Fprint(w, "\n"+globalsHelp)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
