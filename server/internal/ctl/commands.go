package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
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
	// local commands talk to no server: no token is needed.
	local bool
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
		name:    "hosts check",
		args:    []string{"ID"},
		summary: "ask a connected host's agent to evaluate its policies now",
		setup: func(fs *flag.FlagSet) runFunc {
			wait := fs.Bool("wait", false, "wait until the agent reports the evaluation, then print the host's results")
			timeout := fs.Duration("timeout", time.Minute, "how long --wait waits")
			return func(ctx context.Context, s *session, args []string) error {
				if *wait {
					return hostsCheckWait(ctx, s, args[0], *timeout)
				}
				return hostsCheck(ctx, s, args[0])
			}
		},
	},
	{
		name:    "hosts retire",
		args:    []string{"ID"},
		summary: "retire a host: refuse its node key, close its connection, drop it from counts (data kept)",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return hostsRetire(ctx, s, args[0])
			}
		},
	},
	{
		name:    "hosts delete",
		args:    []string{"ID"},
		summary: "delete a host and everything stored about it",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return hostsDelete(ctx, s, args[0])
			}
		},
	},
	{
		name:    "hosts label",
		args:    []string{"ID", "[KEY=VALUE...]"},
		summary: "set or remove a host's labels and print them (no changes: just print them)",
		setup: func(fs *flag.FlagSet) runFunc {
			var remove stringList
			fs.Var(&remove, "remove", "remove this label key (repeatable)")
			return func(ctx context.Context, s *session, args []string) error {
				return hostsLabel(ctx, s, args, remove)
			}
		},
	},
	{
		name:    "hosts policies",
		args:    []string{"ID"},
		summary: "show every policy's result on a host, with since when, checked when and evidence",
		setup: func(fs *flag.FlagSet) runFunc {
			status := fs.String("status", "", "only this status: "+strings.Join(resultStatuses, ", ")+", or "+noResult+" for no result yet")
			return func(ctx context.Context, s *session, args []string) error {
				return hostsPolicies(ctx, s, args[0], *status)
			}
		},
	},
	{
		name:    "hosts inventory",
		args:    []string{"ID"},
		summary: "summarize a host's inventory sections, or print one section's JSON",
		setup: func(fs *flag.FlagSet) runFunc {
			section := fs.String("section", "", "print this section's JSON, e.g. os, software, ports (-o json prints the whole inventory answer)")
			return func(ctx context.Context, s *session, args []string) error {
				return hostsInventory(ctx, s, args[0], *section)
			}
		},
	},
	{
		name:    "changes list",
		summary: "show inventory changes across the fleet, newest first",
		setup: func(fs *flag.FlagSet) runFunc {
			var f changeFilter
			fs.Var(&f.kinds, "kind", "only this kind of change (repeatable), e.g. software_installed")
			fs.StringVar(&f.since, "since", "", "only changes since a time: RFC 3339, or a duration back from now (24h, 7d)")
			fs.StringVar(&f.until, "until", "", "only changes before a time: RFC 3339, or a duration back from now")
			fs.StringVar(&f.subject, "subject", "", "only changes of this exact subject, e.g. openssl or tcp/22")
			host := fs.Int64("host", 0, "only this host's changes (host ID)")
			limit := fs.Int("limit", 100, "changes per request, 1 to 1000")
			return func(ctx context.Context, s *session, _ []string) error {
				return changesList(ctx, s, f, *host, *limit)
			}
		},
	},
	{
		name:    "tokens create",
		args:    []string{"NAME"},
		summary: "create an API token and print it once",
		setup: func(fs *flag.FlagSet) runFunc {
			var in tokenInput
			fs.StringVar(&in.role, "role", "admin", "admin, or viewer for read-only")
			fs.StringVar(&in.expires, "expires", "", "when it expires: a date (2027-01-01), RFC 3339, or a duration (90d, 720h); default never")
			fs.BoolVar(&in.force, "force", false, "allow an expiry more than a year away")
			return func(ctx context.Context, s *session, args []string) error {
				return tokensCreate(ctx, s, args[0], in)
			}
		},
	},
	{
		name:    "tokens list",
		summary: "list API tokens (names, roles, expiry, last use; never the secrets)",
		setup: func(fs *flag.FlagSet) runFunc {
			revoked := fs.Bool("revoked", false, "include revoked tokens")
			return func(ctx context.Context, s *session, _ []string) error {
				return tokensList(ctx, s, *revoked)
			}
		},
	},
	{
		name:    "tokens revoke",
		args:    []string{"NAME"},
		summary: "revoke an API token by name",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return tokensRevoke(ctx, s, args[0])
			}
		},
	},
	{
		name:    "enroll-secrets create",
		args:    []string{"NAME"},
		summary: "create an enroll secret and print it once",
		setup: func(fs *flag.FlagSet) runFunc {
			var in secretInput
			fs.StringVar(&in.expires, "expires", "", "when it expires: a date (2027-01-01), RFC 3339, or a duration (90d, 720h); default never")
			fs.Int64Var(&in.maxUses, "max-uses", 0, "how many hosts may enroll with it; 0 for no limit")
			fs.BoolVar(&in.force, "force", false, "allow an expiry more than a year away")
			return func(ctx context.Context, s *session, args []string) error {
				return enrollSecretsCreate(ctx, s, args[0], in)
			}
		},
	},
	{
		name:    "enroll-secrets list",
		summary: "list enroll secrets with their uses (never the secrets)",
		setup: func(fs *flag.FlagSet) runFunc {
			revoked := fs.Bool("revoked", false, "include revoked secrets")
			return func(ctx context.Context, s *session, _ []string) error {
				return enrollSecretsList(ctx, s, *revoked)
			}
		},
	},
	{
		name:    "enroll-secrets revoke",
		args:    []string{"NAME"},
		summary: "revoke an enroll secret by name (enrolled hosts keep working)",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return enrollSecretsRevoke(ctx, s, args[0])
			}
		},
	},
	{
		name:    "software search",
		args:    []string{"NAME"},
		summary: "find the hosts that have a package (name prefix, any case; a '*' makes NAME a glob)",
		setup: func(fs *flag.FlagSet) runFunc {
			var sf softwareFlags
			sf.register(fs)
			limit := fs.Int("limit", 100, "results per request, 1 to 1000")
			return func(ctx context.Context, s *session, args []string) error {
				return softwareSearch(ctx, s, args[0], sf, *limit)
			}
		},
	},
	{
		name:    "software versions",
		args:    []string{"NAME"},
		summary: "count the live hosts per version of the matching packages",
		setup: func(fs *flag.FlagSet) runFunc {
			var sf softwareFlags
			sf.register(fs)
			return func(ctx context.Context, s *session, args []string) error {
				return softwareVersions(ctx, s, args[0], sf)
			}
		},
	},
	{
		name:    "policies apply",
		summary: "validate policy files with the server, then apply them (all or none)",
		setup: func(fs *flag.FlagSet) runFunc {
			var files stringList
			fs.Var(&files, "f", "a policy file, or a directory of *.yaml, *.yml and *.json files (repeatable)")
			validateOnly := fs.Bool("validate-only", false, "only validate and show what would change")
			var so signOptions
			fs.StringVar(&so.keyFile, "sign-key", "", "sign the set with this private key (keys generate): the files become the whole set, policies not in them are deleted")
			fs.StringVar(&so.expires, "expires", "", "with --sign-key: until when agents accept the set, a date, RFC 3339 time or duration such as 90d (default "+defaultSignatureExpiry+")")
			return func(ctx context.Context, s *session, _ []string) error {
				if so.keyFile != "" {
					return policiesApplySigned(ctx, s, files, *validateOnly, so)
				}
				if so.expires != "" {
					return &usageError{msg: "--expires goes with --sign-key"}
				}
				return policiesApply(ctx, s, files, *validateOnly)
			}
		},
	},
	{
		name:    "policies list",
		summary: "list the policy set with each policy's result counts",
		setup: func(fs *flag.FlagSet) runFunc {
			limit := fs.Int("limit", 100, "policies per request, 1 to 1000")
			reference := fs.String("reference", "", "only policies with this reference: cis:5.4.1.1, ssg:ID, or a catalogue alone (cis)")
			return func(ctx context.Context, s *session, _ []string) error {
				return policiesListRef(ctx, s, *limit, *reference)
			}
		},
	},
	{
		name:    "policies show",
		args:    []string{"ID"},
		summary: "show one policy, its counts and its check",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return policiesShow(ctx, s, args[0])
			}
		},
	},
	{
		name:    "policies delete",
		args:    []string{"ID"},
		summary: "delete a policy with its results and history",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return policiesDelete(ctx, s, args[0])
			}
		},
	},
	{
		name:    "policies results",
		args:    []string{"ID"},
		summary: "show each host's current result for a policy, with evidence and since when",
		setup: func(fs *flag.FlagSet) runFunc {
			status := fs.String("status", "", "only this status: "+strings.Join(resultStatuses, ", "))
			limit := fs.Int("limit", 100, "results per request, 1 to 1000")
			return func(ctx context.Context, s *session, args []string) error {
				return policiesResults(ctx, s, args[0], *status, *limit)
			}
		},
	},
	{
		name:    "policies history",
		args:    []string{"ID"},
		summary: "show a policy's status changes on hosts, newest first",
		setup: func(fs *flag.FlagSet) runFunc {
			host := fs.Int64("host", 0, "only this host's changes (host ID)")
			since := fs.String("since", "", "only changes since a time: RFC 3339, or a duration back from now (24h, 7d)")
			limit := fs.Int("limit", 100, "changes per request, 1 to 1000")
			return func(ctx context.Context, s *session, args []string) error {
				return policiesHistory(ctx, s, args[0], *host, *since, *limit)
			}
		},
	},
	{
		name:    "policies remediation",
		args:    []string{"ID"},
		summary: "print a policy's fix as a shell script or Ansible playbook for the hosts where it fails (never run by Steward)",
		setup: func(fs *flag.FlagSet) runFunc {
			format := fs.String("format", "sh", "sh (a script) or ansible (a playbook)")
			var labels, hosts stringList
			fs.Var(&labels, "label", "only hosts with this label, KEY=VALUE (repeatable; all must match)")
			fs.Var(&hosts, "host", "only this host ID (repeatable)")
			return func(ctx context.Context, s *session, args []string) error {
				return policiesRemediation(ctx, s, args[0], *format, labels, hosts)
			}
		},
	},
	{
		name:    "tailorings list",
		summary: "list the server-side tailorings: parameter values for hosts with labels",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, _ []string) error {
				return tailoringsList(ctx, s)
			}
		},
	},
	{
		name:    "tailorings show",
		args:    []string{"NAME"},
		summary: "show one tailoring: its selector and values",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return tailoringsShow(ctx, s, args[0])
			}
		},
	},
	{
		name:    "tailorings apply",
		summary: "set parameter values from a tailoring file for the hosts with every --label",
		setup: func(fs *flag.FlagSet) runFunc {
			var in tailoringInput
			fs.StringVar(&in.file, "f", "", "tailoring file, the format of steward-agent check --tailoring (required)")
			fs.StringVar(&in.name, "name", "", "the tailoring's name; later names override earlier ones (required)")
			fs.Var(&in.labels, "label", "only hosts with this label, KEY=VALUE (repeatable; all must match; none: every host)")
			return func(ctx context.Context, s *session, _ []string) error {
				return tailoringsApply(ctx, s, in)
			}
		},
	},
	{
		name:    "tailorings delete",
		args:    []string{"NAME"},
		summary: "delete a tailoring; its hosts go back to the other tailorings' values or the defaults",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return tailoringsDelete(ctx, s, args[0])
			}
		},
	},
	{
		name:    "compliance",
		args:    []string{"[report]"},
		summary: "show pass, fail, n/a, error and exempt counts per policy; \"compliance report\" writes a report for auditors (HTML or CSV, every selected host against every selected policy)",
		setup: func(fs *flag.FlagSet) runFunc {
			var ro reportOptions
			fs.StringVar(&ro.format, "format", "html", "report: html (a self-contained page) or csv (a row per host and policy)")
			fs.StringVar(&ro.pack, "pack", "", "report: only the policies of this pack, e.g. cis-debian12-l1-server or baseline")
			fs.StringVar(&ro.tag, "tag", "", "report: only policies with this tag, e.g. cis-l1-server")
			fs.StringVar(&ro.reference, "reference", "", "report: only policies with this reference: cis:5.4.1.1, or a catalogue alone (cis)")
			fs.Var(&ro.labels, "label", "report: only hosts with this label, KEY=VALUE (repeatable; all must match)")
			fs.StringVar(&ro.out, "out", "", "report: write it to this file instead of stdout (-o is the global output format)")
			return func(ctx context.Context, s *session, args []string) error {
				if len(args) == 0 {
					if set := setFlags(fs, "format", "pack", "tag", "reference", "label", "out"); len(set) > 0 {
						return &usageError{msg: "--" + set[0] + " goes with \"compliance report\""}
					}
					return complianceSummary(ctx, s)
				}
				if args[0] != "report" {
					return &usageError{msg: fmt.Sprintf("unknown argument %q: compliance takes no argument, or report", args[0])}
				}
				return complianceReport(ctx, s, ro)
			}
		},
	},
	{
		name:    "exemptions add",
		summary: "exempt a host, or hosts with labels, from a policy until a time",
		setup: func(fs *flag.FlagSet) runFunc {
			var in exemptionInput
			fs.StringVar(&in.policy, "policy", "", "policy ID (required)")
			fs.Int64Var(&in.host, "host", 0, "host ID to exempt")
			fs.Var(&in.labels, "label", "exempt hosts with this label, KEY=VALUE (repeatable; all must match)")
			fs.StringVar(&in.reason, "reason", "", "why (required)")
			fs.StringVar(&in.owner, "owner", "", "who answers for it (required)")
			fs.StringVar(&in.expires, "expires", "", "until when: a date (2027-01-01), RFC 3339, or a duration from now such as 72h or 30d (required)")
			fs.BoolVar(&in.force, "force", false, "allow an expiry more than a year away")
			return func(ctx context.Context, s *session, _ []string) error {
				return exemptionsAdd(ctx, s, in)
			}
		},
	},
	{
		name:    "exemptions list",
		summary: "list active exemptions",
		setup: func(fs *flag.FlagSet) runFunc {
			all := fs.Bool("all", false, "include expired and revoked exemptions")
			policyID := fs.String("policy", "", "only this policy's exemptions")
			limit := fs.Int("limit", 100, "exemptions per request, 1 to 1000")
			return func(ctx context.Context, s *session, _ []string) error {
				return exemptionsList(ctx, s, *all, *policyID, *limit)
			}
		},
	},
	{
		name:    "exemptions remove",
		args:    []string{"ID"},
		summary: "revoke an exemption at once",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return exemptionsRemove(ctx, s, args[0])
			}
		},
	},
	{
		name:    "audit list",
		summary: "show the audit log of changes made through the API, newest first",
		setup: func(fs *flag.FlagSet) runFunc {
			action := fs.String("action", "", "only this action, e.g. host_labels_set or policy_applied")
			limit := fs.Int("limit", 100, "entries per request, 1 to 1000")
			return func(ctx context.Context, s *session, _ []string) error {
				return auditList(ctx, s, *action, *limit)
			}
		},
	},
	{
		name:    "alerts list",
		summary: "list open alerts, newest first",
		setup: func(fs *flag.FlagSet) runFunc {
			var f alertFilter
			fs.StringVar(&f.state, "state", "", "only alerts in this state: "+strings.Join(alertStates, ", ")+" (default open)")
			fs.BoolVar(&f.all, "all", false, "include resolved alerts")
			fs.StringVar(&f.severity, "severity", "", "only this severity: "+strings.Join(alertSeverities, ", "))
			fs.StringVar(&f.rule, "rule", "", "only this rule's alerts")
			fs.Int64Var(&f.host, "host", 0, "only this host's alerts (host ID)")
			limit := fs.Int("limit", 100, "alerts per request, 1 to 1000")
			return func(ctx context.Context, s *session, _ []string) error {
				return alertsList(ctx, s, f, *limit)
			}
		},
	},
	{
		name:    "alerts show",
		args:    []string{"ID"},
		summary: "show one alert, its labels and annotations, and its notifications",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return alertsShow(ctx, s, args[0])
			}
		},
	},
	{
		name:    "alerts ack",
		args:    []string{"ID"},
		summary: "acknowledge an alert; its receivers are told",
		setup: func(fs *flag.FlagSet) runFunc {
			comment := fs.String("comment", "", "what is being done about it")
			return func(ctx context.Context, s *session, args []string) error {
				return alertsAck(ctx, s, args[0], *comment)
			}
		},
	},
	{
		name:    "silences add",
		summary: "mute alerts whose labels match, for a while",
		setup: func(fs *flag.FlagSet) runFunc {
			var in silenceInput
			fs.Var(&in.matchers, "match", "a label matcher: name=value, name!=value, name=~regexp or name!~regexp (repeatable; all must match)")
			fs.StringVar(&in.comment, "comment", "", "why (required)")
			fs.StringVar(&in.duration, "duration", "", "for how long: 90m, 2h, 7d")
			fs.StringVar(&in.ends, "ends", "", "until when, RFC 3339 (instead of --duration)")
			fs.StringVar(&in.starts, "starts", "", "from when, RFC 3339 (default now)")
			return func(ctx context.Context, s *session, _ []string) error {
				return silencesAdd(ctx, s, in)
			}
		},
	},
	{
		name:    "silences list",
		summary: "list silences that have not ended",
		setup: func(fs *flag.FlagSet) runFunc {
			all := fs.Bool("all", false, "include expired silences")
			limit := fs.Int("limit", 100, "silences per request, 1 to 1000")
			return func(ctx context.Context, s *session, _ []string) error {
				return silencesList(ctx, s, *all, *limit)
			}
		},
	},
	{
		name:    "silences expire",
		args:    []string{"ID"},
		summary: "end a silence now",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, args []string) error {
				return silencesExpire(ctx, s, args[0])
			}
		},
	},
	{
		name:    "notifications list",
		summary: "list the notification outbox, newest first",
		setup: func(fs *flag.FlagSet) runFunc {
			var f notificationFilter
			fs.StringVar(&f.receiver, "receiver", "", "only this receiver's notifications")
			fs.StringVar(&f.state, "state", "", "only this state: "+strings.Join(notificationStates, ", "))
			fs.BoolVar(&f.dead, "dead", false, "only dead letters (same as --state dead)")
			fs.Int64Var(&f.alert, "alert", 0, "only this alert's notifications (alert ID)")
			limit := fs.Int("limit", 100, "notifications per request, 1 to 1000")
			return func(ctx context.Context, s *session, _ []string) error {
				return notificationsList(ctx, s, f, *limit)
			}
		},
	},
	{
		name:    "alerting reload",
		summary: "make the server re-read its alerting configuration",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, s *session, _ []string) error {
				return alertingReload(ctx, s)
			}
		},
	},
	packageCommand,
	keysGenerateCommand,
	versionCommand,
	completionCommand,
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
