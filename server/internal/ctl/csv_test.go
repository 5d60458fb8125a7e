package ctl_test

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
)

func TestCSVOutput(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	ts.store.AddHost(store.Host{ID: 7, Hostname: "=HYPERLINK(\"http://x\")", OS: "linux", Platform: "+cmd", OSVersion: "@sum", EnrolledAt: now})
	ts.store.AddHost(store.Host{ID: 8, Hostname: "evil\x1b]0;title\x07\r\nline,\"quoted\"", OS: "linux", Platform: "-2+3", OSVersion: "-5", EnrolledAt: now})
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}

	r := run(t, env, "hosts", "list", "-o", "csv")
	if r.code != ctl.ExitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("-o csv is not CSV: %v\n%s", err, r.stdout)
	}
	if want := []string{"ID", "HOSTNAME", "OS", "VERSION", "ONLINE", "LAST SEEN", "DUPLICATE OF"}; strings.Join(recs[0], "|") != strings.Join(want, "|") {
		t.Errorf("header %q, want %q", recs[0], want)
	}
	if len(recs) != 1+6 {
		t.Fatalf("%d records, want header + 6 hosts", len(recs))
	}
	byID := map[string][]string{}
	for _, rec := range recs[1:] {
		if len(rec) != len(recs[0]) {
			t.Errorf("record %q has %d fields", rec, len(rec))
		}
		byID[rec[0]] = rec
	}
	if got := byID["1"][1]; got != "web-1" {
		t.Errorf("host 1 hostname %q", got)
	}
	// Formula injection: a leading quote, except "-" and plain numbers.
	if got := byID["7"]; got[1] != `'=HYPERLINK("http://x")` || got[2] != "'+cmd" || got[3] != "'@sum" {
		t.Errorf("formula cells not neutralised: %q", got)
	}
	if got := byID["8"]; got[2] != "'-2+3" || got[3] != "-5" || byID["3"][3] != "-" {
		t.Errorf("cells starting with -: %q, %q", got, byID["3"])
	}
	// Inert: escaped as the table escapes, no control bytes anywhere.
	if got, want := byID["8"][1], `evil\x1b]0;title\x07\r\nline,"quoted"`; got != want {
		t.Errorf("hostname cell %q, want %q", got, want)
	}
	for _, c := range r.stdout {
		if c < 0x20 && c != '\n' {
			t.Fatalf("control character %q in CSV output", c)
		}
	}

	t.Run("every list command", func(t *testing.T) {
		for _, args := range [][]string{
			{"software", "search", "openssl"},
			{"hosts", "changes", "1"},
			{"tokens", "list"},
			{"enroll-secrets", "list"},
			{"policies", "list"},
			{"compliance"},
			{"changes", "list"},
			{"audit", "list"},
			{"hosts", "policies", "1"},
			{"software", "versions", "openssl"},
			{"exemptions", "list"},
		} {
			r := run(t, env, append(args, "-o", "csv")...)
			if r.code != ctl.ExitOK {
				t.Errorf("%s -o csv: exit %d, stderr %q", args, r.code, r.stderr)
				continue
			}
			recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
			if err != nil || len(recs) == 0 {
				t.Errorf("%s -o csv: %d records, %v\n%s", args, len(recs), err, r.stdout)
			}
		}
	})
	t.Run("details view refused", func(t *testing.T) {
		r := run(t, env, "hosts", "show", "1", "-o", "csv")
		if r.code != ctl.ExitUsage || r.stdout != "" || !strings.Contains(r.stderr, "-o csv is for commands that print a list") ||
			!strings.Contains(r.stderr, "Usage: stewardctl hosts show") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "": "", "-": "-", "-12": "-12", "-0.5": "-0.5",
		"=1+1": "'=1+1", "+1": "'+1", "-1+1": "'-1+1", "@x": "'@x",
		"\x1b[2J": `\x1b[2J`, "a\u202eb": `a\u202eb`,
	} {
		if got := ctl.CSVCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
