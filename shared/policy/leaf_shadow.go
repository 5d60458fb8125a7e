package policy

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ShadowCheck is the shadow leaf: one field of /etc/shadow for every
// selected account, judged by the ValueTest keys.
type ShadowCheck struct {
	// Accounts selects: "all", "with_password", "interactive", or the
	// names in Names.
	Accounts string   `json:"accounts,omitempty" yaml:"accounts,omitempty"`
	Names    []string `json:"names,omitempty" yaml:"names,omitempty"`
	Field    string   `json:"field" yaml:"field"`
	// NotInFuture (last_change only): the date is not after today.
	NotInFuture bool `json:"not_in_future,omitempty" yaml:"not_in_future,omitempty"`
	ValueTest   `yaml:",inline"`
}

// shadowFields are the fields a shadow leaf may judge, by their index in
// a shadow(5) line.
var shadowFields = map[string]int{
	"password": 1, "last_change": 2, "min_days": 3, "max_days": 4, "warn_days": 5, "inactive": 6, "expire": 7,
}

const shadowPath = "/etc/shadow"

func (ps *parser) shadowCheck(n *yaml.Node, p string) *ShadowCheck {
	fields := ps.fields(n, p, append([]string{"accounts", "field", "not_in_future"}, valueTestKeys...))
	if fields == nil {
		return nil
	}
	c := &ShadowCheck{Accounts: "all"}
	if v := fields["accounts"]; v != nil {
		if dv := ps.deref(v); dv.Kind == yaml.SequenceNode {
			c.Accounts = ""
			c.Names, _ = ps.strs(v, p+".accounts")
			if len(dv.Content) == 0 {
				ps.add(dv, p+".accounts", "must list at least one account name")
			}
		} else if s, ok := ps.str(v, p+".accounts"); ok {
			switch s {
			case "all", "with_password", "interactive":
				c.Accounts = s
			default:
				ps.add(dv, p+".accounts", "%q is not all, with_password, interactive or a list of names", s)
			}
		}
	}
	c.Field = ps.requiredIn(n, fields, "field", p)
	if _, ok := shadowFields[c.Field]; c.Field != "" && !ok {
		ps.add(ps.deref(fields["field"]), p+".field", "%q is not one of last_change, min_days, max_days, warn_days, inactive, expire, password", c.Field)
	}
	if b := ps.optBool(fields, "not_in_future", p); b != nil {
		c.NotInFuture = *b
		if c.Field != "last_change" {
			ps.add(ps.deref(fields["not_in_future"]), p+".not_in_future", "only applies to field: last_change")
		}
		if !*b {
			ps.add(ps.deref(fields["not_in_future"]), p+".not_in_future", "only true is meaningful; leave it out otherwise")
		}
	}
	c.ValueTest = ps.valueTest(fields, p)
	if c.ValueTest.Empty() && !c.NotInFuture {
		ps.add(ps.deref(n), p, "needs not_in_future or at least one of %s", strings.Join(valueTestKeys, ", "))
	}
	return c
}

// shadowEntry is one line of /etc/shadow.
type shadowEntry struct {
	name   string
	fields []string // all nine
	line   int
}

// parseShadow reads shadow(5) lines: exactly nine colon-separated fields,
// as the C library's line parser requires. Blank lines and comments are
// skipped; other lines of another shape are skipped and counted in
// malformed; the first entry for a name wins, as getspnam's linear search
// does.
func parseShadow(data []byte) (out []shadowEntry, malformed int) {
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 9 || f[0] == "" {
			malformed++
			continue
		}
		if seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		out = append(out, shadowEntry{name: f[0], fields: f, line: i + 1})
	}
	return out, malformed
}

var desHash = regexp.MustCompile(`^[./0-9A-Za-z]{13}$`)

// passwordState describes a password field without revealing it: "empty",
// "locked" (starts with "!", as passwd -l writes), "none" ("*" and other
// text no hash can produce), or "hashed:<algorithm>" named from the
// crypt(5) prefix.
func passwordState(pw string) string {
	switch {
	case pw == "":
		return "empty"
	case strings.HasPrefix(pw, "!"):
		return "locked"
	case desHash.MatchString(pw):
		return "hashed:des"
	case strings.HasPrefix(pw, "_") && len(pw) == 20:
		return "hashed:bsdicrypt"
	case !strings.HasPrefix(pw, "$"):
		return "none"
	}
	id, _, _ := strings.Cut(pw[1:], "$")
	switch id {
	case "y":
		return "hashed:yescrypt"
	case "gy":
		return "hashed:gost-yescrypt"
	case "7":
		return "hashed:scrypt"
	case "2a", "2b", "2x", "2y":
		return "hashed:bcrypt"
	case "6":
		return "hashed:sha512crypt"
	case "5":
		return "hashed:sha256crypt"
	case "sha1":
		return "hashed:sha1crypt"
	case "md5":
		return "hashed:sunmd5"
	case "1":
		return "hashed:md5crypt"
	case "3":
		return "hashed:nthash"
	}
	return "hashed:unknown"
}

// usablePassword: a password one can log in with.
func usablePassword(pw string) bool { return strings.HasPrefix(passwordState(pw), "hashed:") }

// daysSinceEpoch is today's date as shadow counts it (UTC days).
func daysSinceEpoch(now time.Time) int64 { return now.Unix() / 86400 }

func shadowLeaf(ctx context.Context, env Env, c *ShadowCheck) (bool, string, error) {
	data, found, err := readAccountFile(ctx, env, shadowPath)
	if err != nil {
		return false, "", err
	}
	if !found {
		return false, shadowPath + " does not exist", nil
	}
	entries, malformed := parseShadow(data)
	note := ""
	if malformed > 0 {
		note = fmt.Sprintf(" (%d malformed lines of %s skipped)", malformed, shadowPath)
	}
	var selected []shadowEntry
	var failed []string
	switch {
	case c.Names != nil:
		byName := map[string]shadowEntry{}
		for _, e := range entries {
			byName[e.name] = e
		}
		for _, n := range c.Names {
			if e, ok := byName[n]; ok {
				selected = append(selected, e)
			} else {
				failed = append(failed, n+": no entry in "+shadowPath)
			}
		}
	case c.Accounts == "interactive":
		accts, err := loadAccounts(ctx, env, false)
		if err != nil {
			return false, "", err
		}
		for _, e := range entries {
			if u, ok := accts.userByName[e.name]; ok && accts.interactive(u) {
				selected = append(selected, e)
			}
		}
	case c.Accounts == "with_password":
		for _, e := range entries {
			if usablePassword(e.fields[1]) {
				selected = append(selected, e)
			}
		}
	default:
		selected = entries
	}
	idx := shadowFields[c.Field]
	today := daysSinceEpoch(time.Now())
	var passed []string
	for _, e := range selected {
		raw := e.fields[idx]
		var got *string
		shown := raw
		if c.Field == "password" {
			shown = passwordState(raw)
			got = &shown
		} else if raw != "" {
			got = &raw
		}
		where := fmt.Sprintf("%s:%d", shadowPath, e.line)
		if c.NotInFuture && raw != "" {
			d, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s %s %q is not a number (%s)", e.name, c.Field, raw, where))
				continue
			}
			if d > today {
				failed = append(failed, fmt.Sprintf("%s %s %d is after today (%d) (%s)", e.name, c.Field, d, today, where))
				continue
			}
		}
		detail := fmt.Sprintf("%q", shown)
		if raw == "" && c.Field != "password" {
			detail = "not set"
		}
		if !c.ValueTest.Empty() {
			ok, d, err := c.ValueTest.Test(ctx, got)
			if err != nil {
				return false, "", err
			}
			detail = d
			if !ok {
				failed = append(failed, fmt.Sprintf("%s %s %s (%s)", e.name, c.Field, d, where))
				continue
			}
		}
		passed = append(passed, e.name+" "+detail)
	}
	if len(failed) > 0 {
		return false, fmt.Sprintf("%d of %d accounts fail: %s", len(failed), len(selected)+countMissing(c.Names, selected), strings.Join(failed, "; ")) + note, nil
	}
	if len(selected) == 0 {
		return true, fmt.Sprintf("no account in %s is selected (%s)", shadowPath, c.selection()) + note, nil
	}
	return true, fmt.Sprintf("%s of %s: %s", c.Field, c.selection(), listNames(passed)) + note, nil
}

// countMissing is how many listed names had no entry.
func countMissing(names []string, selected []shadowEntry) int {
	if names == nil {
		return 0
	}
	return len(names) - len(selected)
}

func (c *ShadowCheck) selection() string {
	if c.Names != nil {
		return "accounts " + strings.Join(c.Names, ", ")
	}
	return c.Accounts + " accounts"
}

// listNames names up to eight items and counts the rest.
func listNames(items []string) string {
	if len(items) <= 8 {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:8], ", "), len(items)-8)
}
