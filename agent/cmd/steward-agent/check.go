package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/agent/internal/config"
	"github.com/steward-project/steward/shared/policy"
)

// checkWorkers bounds how many policies are evaluated at once: enough to
// overlap file reads and commands, few enough to stay quiet on an endpoint.
const checkWorkers = 4

// checkFormats are the values of check --format; json is the default.
var checkFormats = []string{"json", "table", "junit", "html"}

// maxListed bounds how many tripping policy ids the --fail-on message
// names.
const maxListed = 10

func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var paths pathList
	fs.Var(&paths, "policy", "policy file or directory (repeatable)")
	format := fs.String("format", "json", "output format: "+strings.Join(checkFormats, ", "))
	failOn := fs.String("fail-on", "", "exit 1 when a policy of this severity or higher fails or errors: info, low, medium, high or critical")
	root := fs.String("root", "", "check the system image or container root file system mounted at DIR")
	tailoringFile := fs.String("tailoring", "", "tailoring YAML file: parameter values and disabled policies for this site")
	configFile := fs.String("config", "", "agent YAML configuration file (allow_commands and evidence_content are read from it)")
	timeout := fs.Duration("timeout", collect.DefaultTimeout, "time limit for each inventory collector")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "steward-agent check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "steward-agent check: --policy PATH is required")
		return 2
	}
	if !contains(checkFormats, *format) {
		fmt.Fprintf(stderr, "steward-agent check: --format %q: want %s\n", *format, strings.Join(checkFormats, ", "))
		return 2
	}
	if *failOn != "" && !check.ValidSeverity(*failOn) {
		fmt.Fprintf(stderr, "steward-agent check: --fail-on %q: want info, low, medium, high or critical\n", *failOn)
		return 2
	}
	if *root != "" {
		if fi, err := os.Stat(*root); err != nil || !fi.IsDir() {
			fmt.Fprintf(stderr, "steward-agent check: --root %s is not a directory\n", *root)
			return 2
		}
	}
	var cfg config.Config
	if *configFile != "" {
		var err error
		if cfg, err = config.LoadFile(*configFile); err != nil {
			fmt.Fprintf(stderr, "steward-agent check: %v\n", err)
			return 2
		}
	}
	policies, sources, err := policy.LoadWithSources(paths)
	if err != nil {
		fmt.Fprintf(stderr, "steward-agent check: invalid policies, nothing evaluated:\n%v\n", err)
		return 2
	}
	if *tailoringFile != "" {
		t, err := policy.LoadTailoring(*tailoringFile)
		if err == nil {
			policies, err = t.Apply(policies)
		}
		if err != nil {
			fmt.Fprintf(stderr, "steward-agent check: invalid tailoring, nothing evaluated:\n%v\n", err)
			return 2
		}
	}
	started := time.Now()
	doc := collect.Collect(ctx, collect.Config{Root: *root, Timeout: *timeout})
	env := check.NewEnv(ctx, check.Config{Root: *root, AllowCommands: cfg.AllowCommands, EvidenceContent: cfg.EvidenceContent}, doc)
	results := policy.EvaluateAll(ctx, policies, env, checkWorkers)
	report := func() check.ReportInput {
		info := check.HostFacts(doc)
		info.Root, info.CheckedAt, info.Sources = *root, started, paths
		info.AgentVersion, info.FailOn = version, *failOn
		return check.ReportInput{Info: info, Policies: policies, Results: results, Source: sources}
	}
	switch *format {
	case "table":
		err = check.WriteTable(stdout, policies, results)
	case "junit":
		err = check.WriteJUnit(stdout, report())
	case "html":
		err = check.WriteHTML(stdout, report())
	default:
		err = check.WriteJSON(stdout, results)
	}
	if err != nil {
		fmt.Fprintf(stderr, "steward-agent check: %v\n", err)
		return 1
	}
	if *failOn == "" {
		return 0
	}
	tripped := check.Tripped(policies, results, *failOn)
	if len(tripped) == 0 {
		return 0
	}
	listed := tripped
	if len(listed) > maxListed {
		listed = listed[:maxListed]
	}
	more := ""
	if n := len(tripped) - len(listed); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	noun := "policies"
	if len(tripped) == 1 {
		noun = "policy"
	}
	fmt.Fprintf(stderr, "steward-agent check: --fail-on %s: %d %s at severity %s or higher failed or errored: %s%s\n",
		*failOn, len(tripped), noun, *failOn, strings.Join(listed, ", "), more)
	return 1
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
