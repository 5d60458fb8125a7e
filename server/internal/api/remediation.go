package api

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// maxRemediationHosts bounds the hosts one remediation names: a larger
// fleet is remediated by label, a slice at a time.
const maxRemediationHosts = 10000

// ansibleHostname is a hostname that is safe as an Ansible host pattern:
// no pattern characters (: , ! & * ~ [ ]) and no white space.
var ansibleHostname = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ansibleGroups are names Ansible reads as groups, never as one host.
var ansibleGroups = []string{"all", "ungrouped"}

type failingHost struct {
	id       int64
	hostname string
}

// policyRemediation serves GET /policies/{id}/remediation: the policy's
// fix, as a shell script or an Ansible playbook, for the hosts where it
// currently fails (narrowed by ?label= and ?host=). Steward never runs
// it; an admin reviews and runs it.
func (s *server) policyRemediation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = apitypes.RemediationShell
	}
	if format != apitypes.RemediationShell && format != apitypes.RemediationAnsible {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format must be sh or ansible, got %q", format))
		return
	}
	sel, err := readSelection(map[string][]string{"label": q["label"]})
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for _, h := range q["host"] {
		id, err := strconv.ParseInt(h, 10, 64)
		if err != nil || id < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("host %q is not a positive integer", h))
			return
		}
		if sel.hosts == nil {
			sel.hosts = map[int64]bool{}
		}
		sel.hosts[id] = true
	}
	p, ok := s.lookupPolicy(w, r)
	if !ok {
		return
	}
	text := p.Policy.Fix.Text(format)
	if text == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("policy %q has no %s fix", p.Policy.ID, format))
		return
	}
	hosts, more, err := s.failingHosts(r, p.Policy.ID, sel)
	if err != nil {
		s.storeFailed(w, r, "policy results", err)
		return
	}
	var out bytes.Buffer
	if format == apitypes.RemediationShell {
		shellRemediation(&out, p.Policy, text, hosts, more, s.now())
		reportHeaders(w, "text/plain; charset=utf-8")
	} else {
		if err := ansibleRemediation(&out, p.Policy, text, hosts, more, s.now()); err != nil {
			// The fix was validated when applied; only a policy stored
			// by an older server gets here.
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("policy %q: stored ansible fix: %v", p.Policy.ID, err))
			return
		}
		reportHeaders(w, "application/yaml")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}

// failingHosts pages through the policy's failing results (exempt ones
// are not failing) and keeps the selected hosts, at most
// maxRemediationHosts; more counts the rest.
func (s *server) failingHosts(r *http.Request, policyID string, sel selection) ([]failingHost, int, error) {
	var out []failingHost
	more := 0
	q := store.ResultQuery{PolicyID: policyID, Status: policy.StatusFail, At: s.now(), Limit: reportHostPage}
	for {
		rows, err := s.store.PolicyResults(r.Context(), q)
		if err != nil {
			return nil, 0, err
		}
		for _, row := range rows {
			if sel.hosts != nil && !sel.hosts[row.HostID] {
				continue
			}
			if len(sel.labels) > 0 {
				labels, err := s.store.HostLabels(r.Context(), row.HostID)
				if err != nil {
					continue // deleted meanwhile, or unreadable: not named
				}
				if !sel.host(row.HostID, labels) {
					continue
				}
			}
			if len(out) == maxRemediationHosts {
				more++
				continue
			}
			out = append(out, failingHost{id: row.HostID, hostname: row.Hostname})
		}
		if len(rows) < q.Limit {
			return out, more, nil
		}
		q.AfterHostID = rows[len(rows)-1].HostID
	}
}

// commentText makes text safe inside a one-line comment of a script or
// playbook: control characters (a newline would end the comment) are
// replaced.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}

func remediationHeader(b *bytes.Buffer, p policy.Policy, format string, hosts []failingHost, more int, at time.Time) {
	fmt.Fprintf(b, "# Steward remediation (%s) for policy %s: %s\n", format, p.ID, commentText(p.Title))
	fmt.Fprintf(b, "# Generated %s. Review it before running it: Steward never runs fixes.\n", at.UTC().Format(time.RFC3339))
	if len(hosts) == 0 {
		b.WriteString("# No selected host currently fails this policy.\n")
		return
	}
	fmt.Fprintf(b, "# Hosts where the policy currently fails (%d; hostname, host id):\n", len(hosts)+more)
	for _, h := range hosts {
		fmt.Fprintf(b, "#   %s (host %d)\n", strconv.QuoteToASCII(h.hostname), h.id)
	}
	if more > 0 {
		fmt.Fprintf(b, "#   ... and %d more, left out: narrow the selection with labels\n", more)
	}
}

// shellRemediation writes a script that runs the fix once: it is the
// same for every host, so the admin runs it on each host listed.
func shellRemediation(b *bytes.Buffer, p policy.Policy, text string, hosts []failingHost, more int, at time.Time) {
	b.WriteString("#!/bin/sh\n")
	remediationHeader(b, p, apitypes.RemediationShell, hosts, more, at)
	if len(hosts) == 0 {
		b.WriteString("exit 0\n")
		return
	}
	b.WriteString("# Run it as root on each host above.\n\n")
	b.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		b.WriteString("\n")
	}
}

// ansibleRemediation writes a playbook of one play: the failing hosts
// (by hostname, as the inventory should name them) and the fix's tasks.
// Hostnames that are not plain names would be read as Ansible patterns
// (a host called "all" would target everything) and are left out, named
// in a comment.
func ansibleRemediation(b *bytes.Buffer, p policy.Policy, text string, hosts []failingHost, more int, at time.Time) error {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.SequenceNode {
		return fmt.Errorf("not a list of tasks")
	}
	tasks := doc.Content[0]
	remediationHeader(b, p, apitypes.RemediationAnsible, hosts, more, at)
	var names []string
	for _, h := range hosts {
		if !ansibleHostname.MatchString(h.hostname) || containsFold(ansibleGroups, h.hostname) {
			fmt.Fprintf(b, "# Left out, not usable as an Ansible host name: %s (host %d)\n", strconv.QuoteToASCII(h.hostname), h.id)
			continue
		}
		names = append(names, h.hostname)
	}
	if len(names) == 0 {
		b.WriteString("# Nothing to run.\n[]\n")
		return nil
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	hostList := &yaml.Node{Kind: yaml.SequenceNode}
	for _, n := range names {
		hostList.Content = append(hostList.Content, str(n))
	}
	play := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		str("name"), str("Steward remediation: " + p.ID),
		str("hosts"), hostList,
		str("become"), {Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"},
		str("tasks"), tasks,
	}}
	enc := yaml.NewEncoder(b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{play}}); err != nil {
		return err
	}
	return enc.Close()
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
