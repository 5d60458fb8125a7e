package policy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoginDefsCheck is the login_defs leaf: one setting of /etc/login.defs,
// judged by the ValueTest keys.
type LoginDefsCheck struct {
	Key       string `json:"key" yaml:"key"`
	ValueTest `yaml:",inline"`
}

// loginDefsPath is shadow-utils' configuration file.
const loginDefsPath = "/etc/login.defs"

// maxAccountFileBytes bounds what the pam, sshd, login_defs, shadow and
// accounts leaves read of one file: configuration and account databases
// are small, and a larger file is an error rather than a slow scan.
const maxAccountFileBytes = 8 << 20

// loginDefsDefaults are shadow-utils' values for settings login.defs
// leaves unset (the compiled-in defaults of the tools that read them).
var loginDefsDefaults = map[string]string{
	"PASS_MAX_DAYS":  "99999",
	"PASS_MIN_DAYS":  "0",
	"PASS_WARN_AGE":  "7",
	"UMASK":          "022",
	"ENCRYPT_METHOD": "DES",
	"UID_MIN":        "1000",
	"UID_MAX":        "60000",
	"GID_MIN":        "1000",
	"GID_MAX":        "60000",
}

var loginDefsKeyRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func (ps *parser) loginDefsCheck(n *yaml.Node, p string) *LoginDefsCheck {
	fields := ps.fields(n, p, append([]string{"key"}, valueTestKeys...))
	if fields == nil {
		return nil
	}
	c := &LoginDefsCheck{Key: ps.requiredIn(n, fields, "key", p)}
	if c.Key != "" && !loginDefsKeyRE.MatchString(c.Key) {
		ps.add(ps.deref(fields["key"]), p+".key", "%q is not a login.defs setting name (upper case, like PASS_MAX_DAYS; names are case-sensitive)", c.Key)
	}
	c.ValueTest = ps.valueTest(fields, p)
	if c.ValueTest.Empty() {
		ps.add(ps.deref(n), p, "needs at least one of %s", strings.Join(valueTestKeys, ", "))
	}
	return c
}

// ldefsSetting is one effective login.defs value and where it came from.
type ldefsSetting struct {
	value string
	line  int
}

// readAccountFile reads path through env within maxAccountFileBytes.
// found is false when the file does not exist.
func readAccountFile(ctx context.Context, env Env, path string) (data []byte, found bool, err error) {
	data, err = env.ReadFile(ctx, path, maxAccountFileBytes)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, false, nil
	case errors.Is(err, ErrFileTooLarge):
		return nil, false, fmt.Errorf("%s is larger than %d bytes", path, maxAccountFileBytes)
	case err != nil:
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return data, true, nil
}

// parseLoginDefs reads login.defs as shadow-utils' getdef.c does: blank
// lines and lines whose first non-blank character is '#' are skipped; the
// name is the first blank-delimited word; the value starts after the
// blanks and double quotes that follow it and ends at the next blank or
// double quote; a name without a value is ignored; a later assignment
// replaces an earlier one (last wins). Names are case-sensitive.
func parseLoginDefs(data []byte) map[string]ldefsSetting {
	out := map[string]ldefsSetting{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimLeft(line, " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			continue
		}
		name := line[:end]
		rest := strings.TrimLeft(line[end:], " \t\"")
		if cut := strings.IndexAny(rest, " \t\"\r"); cut >= 0 {
			rest = rest[:cut]
		}
		if rest == "" {
			continue
		}
		out[name] = ldefsSetting{value: rest, line: i + 1}
	}
	return out
}

// loginDefs loads the checked system's login.defs; found is false when
// the file does not exist (every setting then has its default).
func loginDefs(ctx context.Context, env Env) (map[string]ldefsSetting, bool, error) {
	data, found, err := readAccountFile(ctx, env, loginDefsPath)
	if err != nil || !found {
		return map[string]ldefsSetting{}, found, err
	}
	return parseLoginDefs(data), true, nil
}

// loginDefsValue is the effective value of key: the file's, else
// shadow-utils' default, else nil. from says where it came from.
func loginDefsValue(defs map[string]ldefsSetting, found bool, key string) (val *string, from string) {
	if s, ok := defs[key]; ok {
		v := s.value
		return &v, fmt.Sprintf("from %s:%d", loginDefsPath, s.line)
	}
	where := "not set in " + loginDefsPath
	if !found {
		where = loginDefsPath + " does not exist"
	}
	if d, ok := loginDefsDefaults[key]; ok {
		return &d, "(default; " + where + ")"
	}
	return nil, "(" + where + ")"
}

func loginDefsLeaf(ctx context.Context, env Env, c *LoginDefsCheck) (bool, string, error) {
	defs, found, err := loginDefs(ctx, env)
	if err != nil {
		return false, "", err
	}
	val, from := loginDefsValue(defs, found, c.Key)
	ok, detail, err := c.ValueTest.Test(ctx, val)
	if err != nil {
		return false, "", err
	}
	return ok, fmt.Sprintf("%s %s %s", c.Key, detail, from), nil
}
