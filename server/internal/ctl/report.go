package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Formats of compliance report and policies remediation, as the API
// names them.
var (
	reportFormats      = []string{"html", "csv"}
	remediationFormats = []string{"sh", "ansible"}
)

// checkLabelFlags refuses a --label that is not KEY=VALUE before asking
// the server.
func checkLabelFlags(labels []string) error {
	for _, l := range labels {
		if k, _, ok := strings.Cut(l, "="); !ok || strings.TrimSpace(k) == "" {
			return &usageError{msg: fmt.Sprintf("--label %q: want KEY=VALUE", l)}
		}
	}
	return nil
}

// rawOutput refuses -o json and -o csv for commands that print a
// document of their own (a report, a script): --format chooses it.
func rawOutput(s *session) error {
	if s.output != outputTable {
		return &usageError{msg: "-o " + s.output + " does not apply to this command: it prints the document the server made; choose it with --format"}
	}
	return nil
}

// complianceReport streams the report to path, or to stdout when path is
// "" or "-". A file is written under a temporary name and renamed once
// the whole report arrived, so a failed run leaves no partial report.
func complianceReport(ctx context.Context, s *session, ro reportOptions) error {
	format, path := ro.format, ro.out
	if !slices.Contains(reportFormats, format) {
		return &usageError{msg: fmt.Sprintf("--format %q: want html or csv", format)}
	}
	if err := checkLabelFlags(ro.labels); err != nil {
		return err
	}
	q := url.Values{"format": {format}}
	for name, v := range map[string]string{"pack": ro.pack, "tag": ro.tag, "reference": ro.reference} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if len(ro.labels) > 0 {
		q["label"] = ro.labels
	}
	if path == "" || path == "-" {
		if err := rawOutput(s); err != nil {
			return err
		}
		_, err := s.client.Stream(ctx, "/api/v1/compliance/report", q, s.out)
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	cw := &countingWriter{w: f}
	if _, err := s.client.Stream(ctx, "/api/v1/compliance/report", q, cw); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	done = true
	return printf(s.errOut, "Wrote the %s compliance report to %s (%d bytes).\n", format, escapeText(path, false), cw.n)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// policiesRemediation prints the policy's fix as a script or playbook for
// the hosts where it fails, to review and run.
func policiesRemediation(ctx context.Context, s *session, id, format string, labels, hosts []string) error {
	if !slices.Contains(remediationFormats, format) {
		return &usageError{msg: fmt.Sprintf("--format %q: want sh or ansible", format)}
	}
	if err := checkLabelFlags(labels); err != nil {
		return err
	}
	for _, h := range hosts {
		if n, err := strconv.ParseInt(h, 10, 64); err != nil || n < 1 {
			return &usageError{msg: fmt.Sprintf("--host %q is not a positive integer", h)}
		}
	}
	if err := rawOutput(s); err != nil {
		return err
	}
	q := url.Values{"format": {format}}
	if len(labels) > 0 {
		q["label"] = labels
	}
	if len(hosts) > 0 {
		q["host"] = hosts
	}
	_, err := s.client.Stream(ctx, "/api/v1/policies/"+url.PathEscape(id)+"/remediation", q, s.out)
	return err
}

// referencesText is "cis:5.4.1.1, ssg:ID" by catalogue.
func referencesText(refs map[string][]string) string {
	cats := make([]string, 0, len(refs))
	for c := range refs {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	var parts []string
	for _, c := range cats {
		for _, id := range refs[c] {
			parts = append(parts, c+":"+id)
		}
	}
	return strings.Join(parts, ", ")
}

// reportOptions are the flags of "compliance report".
type reportOptions struct {
	format, pack, tag, reference, out string
	labels                            stringList
}

// setFlags returns those of names that were given on the command line.
func setFlags(fs *flag.FlagSet, names ...string) []string {
	var out []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(names, f.Name) {
			out = append(out, f.Name)
		}
	})
	return out
}
