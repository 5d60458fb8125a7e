package policy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// commandOutputShown is how much of a command's output evidence quotes.
const commandOutputShown = 200

// registryLeaf tests a registry key (no value named: the key must exist)
// or value (exists; equals its text exactly; or matches a regex). A
// missing key or value fails the leaf; it is not an error.
func registryLeaf(ctx context.Context, env Env, c *RegistryCheck) (bool, string, error) {
	where := c.Key
	if c.Value != "" {
		where += `\` + c.Value
	}
	got, err := env.Registry(ctx, c.Key, c.Value)
	if errors.Is(err, ErrNotFound) {
		return false, where + " not found", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("registry %s: %w", where, err)
	}
	// The value is named by where alone unless env lets evidence quote it.
	shown := where
	if c.Value != "" && mayQuote(env, ContentRegistry, where, []byte(got)) {
		shown = fmt.Sprintf("%s = %q", where, got)
	}
	switch {
	case c.Value == "":
		return true, c.Key + " exists", nil
	case c.Equals != "" && got == c.Equals:
		// The value is the one the policy wants: quoting it tells nothing.
		return true, fmt.Sprintf("%s = %q, want %q", where, got, c.Equals), nil
	case c.Equals != "" && shown == where:
		return false, fmt.Sprintf("%s is not %q", where, c.Equals), nil
	case c.Equals != "":
		return false, fmt.Sprintf("%s, want %q", shown, c.Equals), nil
	case c.Matches == "" && shown == where:
		return true, where + " exists", nil
	case c.Matches == "":
		return true, shown, nil
	}
	re, err := regexp.Compile(c.Matches)
	if err != nil {
		return false, "", fmt.Errorf("matches: %w", err)
	}
	if re.MatchString(got) {
		return true, fmt.Sprintf("%s matches %s", shown, re), nil
	}
	return false, fmt.Sprintf("%s does not match %s", shown, re), nil
}

// commandLeaf runs a program and tests its exit code (0 unless exit_code
// says otherwise) and, with output_matches, its output. Refused commands,
// timeouts and floods are errors, never passes or fails.
func commandLeaf(ctx context.Context, env Env, c *CommandCheck, timeout time.Duration) (bool, string, error) {
	var outRe *regexp.Regexp
	if c.OutputMatches != "" {
		re, err := regexp.Compile(c.OutputMatches)
		if err != nil {
			return false, "", fmt.Errorf("output_matches: %w", err)
		}
		outRe = re
	}
	res, err := env.Run(ctx, c.Run, MaxCommandOutput)
	quote := mayQuote(env, ContentCommand, c.Run[0], res.Output)
	shown := fmt.Sprintf("output %q", truncate(string(res.Output), commandOutputShown))
	if !quote {
		shown = fmt.Sprintf("output not quoted (%d bytes)", len(res.Output))
	}
	switch {
	case errors.Is(err, ErrCommandsDisabled):
		return false, "", fmt.Errorf("command %q refused: %w", c.Run[0], err)
	case ctx.Err() != nil:
		return false, shown, fmt.Errorf("command %q %w after %s and was killed", c.Run[0], errTimedOut, timeout)
	case errors.Is(err, ErrOutputLimit):
		return false, shown, fmt.Errorf("command %q printed more than %d bytes and was killed", c.Run[0], MaxCommandOutput)
	case err != nil:
		return false, "", fmt.Errorf("command %q: %w", c.Run[0], err)
	}
	want := 0
	if c.ExitCode != nil {
		want = *c.ExitCode
	}
	pass := res.ExitCode == want
	detail := fmt.Sprintf("exit code %d (want %d)", res.ExitCode, want)
	if outRe != nil {
		if loc := outRe.FindIndex(res.Output); loc != nil {
			if quote {
				detail += fmt.Sprintf("; output line %s matches", lineAt(res.Output, loc[0]))
			} else {
				detail += fmt.Sprintf("; output line %d matches", lineNumber(res.Output, loc[0]))
			}
		} else {
			pass = false
			detail += fmt.Sprintf("; output does not match %s", outRe)
		}
	}
	return pass, detail + "; " + shown, nil
}
