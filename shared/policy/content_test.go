package policy

import (
	"context"
	"strings"
	"testing"
)

// gateless hides fakeEnv's MayQuote: an Env without a ContentGate.
type gateless struct{ Env }

// TestContentWithheld: evidence quotes no file line, registry value or
// command output unless the Env's ContentGate allows it, and an Env
// without a gate never has content quoted; line numbers and match results
// still explain the result.
func TestContentWithheld(t *testing.T) {
	const key = `HKLM\SOFTWARE\Steward`
	base := newFakeEnv(t, "debian12.json")
	base.files = sshFiles()
	base.files["/etc/shadow"] = fakeFile{data: "daemon:*:1::::::\nroot:$6$salt$hash:19000:0:99999:7:::\n", mode: 0o640, owner: "root", uid: "0"}
	base.registry = map[string]string{key: "", key + `\Token`: "s3cret-token"}
	base.run = func(ctx context.Context, argv []string, limit int) (CommandResult, error) {
		return CommandResult{Output: []byte("user=admin\npassword=hunter2\n")}, nil
	}
	withholdAll := *base
	withholdAll.withhold = func(ContentKind, string) bool { return true }
	onlyShadow := *base
	onlyShadow.withhold = func(kind ContentKind, name string) bool { return kind == ContentFile && name == "/etc/shadow" }

	cases := []struct {
		name, check string
		env         Env
		want        Status
		detail      string
	}{
		{"file not_matches, gate says no", `{file: {path: /etc/shadow, not_matches: '(?m)^root:.*$'}}`, &withholdAll, StatusFail,
			`/etc/shadow line 2 matches not_matches (?m)^root:.*$`},
		{"file not_matches, no gate", `{file: {path: /etc/shadow, not_matches: '(?m)^root:.*$'}}`, gateless{base}, StatusFail,
			`/etc/shadow line 2 matches not_matches (?m)^root:.*$`},
		{"file matches, no gate", `{file: {path: /etc/shadow, matches: '(?m)^root:'}}`, gateless{base}, StatusPass,
			`/etc/shadow line 2 matches`},
		{"file not_matches, gate says yes", `{file: {path: /etc/shadow, not_matches: '(?m)^root:.*$'}}`, base, StatusFail,
			`/etc/shadow:2: "root:$6$salt$hash:19000:0:99999:7:::" matches not_matches (?m)^root:.*$`},
		{"gate decides per file", `{file: {path: "/etc/s*", matches: '(?m)^(Port|root)'}}`, &onlyShadow, StatusPass,
			`/etc/shadow line 2 matches`},
		{"registry value, no gate", `{registry: {key: '` + key + `', value: Token}}`, gateless{base}, StatusPass, key + `\Token exists`},
		{"registry matches, no gate", `{registry: {key: '` + key + `', value: Token, matches: '^s3'}}`, gateless{base}, StatusPass,
			key + `\Token matches ^s3`},
		{"registry mismatch, no gate", `{registry: {key: '` + key + `', value: Token, matches: '^x'}}`, gateless{base}, StatusFail,
			key + `\Token does not match ^x`},
		{"registry equals fails, no gate", `{registry: {key: '` + key + `', value: Token, equals: "x"}}`, gateless{base}, StatusFail,
			key + `\Token is not "x"`},
		{"registry equals holds, no gate", `{registry: {key: '` + key + `', value: Token, equals: "s3cret-token"}}`, gateless{base}, StatusPass,
			key + `\Token = "s3cret-token", want "s3cret-token"`},
		{"registry, gate says yes", `{registry: {key: '` + key + `', value: Token, equals: "x"}}`, base, StatusFail,
			key + `\Token = "s3cret-token", want "x"`},
		{"command, no gate", `{command: {run: [cfg], output_matches: 'password='}}`, gateless{base}, StatusPass,
			`exit code 0 (want 0); output line 2 matches; output not quoted (28 bytes)`},
		{"command, gate says yes", `{command: {run: [cfg], output_matches: 'password='}}`, base, StatusPass,
			`exit code 0 (want 0); output line 2: "password=hunter2" matches; output "user=admin\npassword=hunter2\n"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, c.check), c.env)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail {
				t.Errorf("status %s, evidence:\n%swant %s, %q", r.Status, evidenceText(r.Evidence), c.want, c.detail)
			}
			if strings.Contains(c.detail, "line 2 matches") && (strings.Contains(r.Evidence[0].Detail, "$6$") || strings.Contains(r.Evidence[0].Detail, "hunter2")) {
				t.Errorf("content leaked: %q", r.Evidence[0].Detail)
			}
		})
	}
}
