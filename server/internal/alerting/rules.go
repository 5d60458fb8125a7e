package alerting

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// maxEvidence bounds the evidence annotation, so one odd result cannot
// make a notification that receivers refuse for its size.
const maxEvidence = 2 << 10

// hostPage is how many hosts or results one read takes.
const hostPage = 1000

// spec builds an alert of rule r on host h with the built-in labels, the
// rule's labels and the host's labels, in that order of precedence.
func spec(r alertconf.Rule, h *hostInfo, subject, severity string, extra map[string]string, ann map[string]string) store.AlertSpec {
	labels := map[string]string{}
	for k, v := range h.Labels {
		labels[k] = v
	}
	for _, name := range alertconf.BuiltinLabels {
		if v, ok := labels[name]; ok {
			delete(labels, name)
			labels["host_"+name] = v
		}
	}
	for k, v := range r.Labels {
		labels[k] = v
	}
	for k, v := range extra {
		labels[k] = v
	}
	labels["rule"] = r.Name
	labels["severity"] = severity
	labels["host_id"] = strconv.FormatInt(h.ID, 10)
	labels["hostname"] = h.Hostname
	labels["os"] = h.OS
	if r.Summary != "" {
		ann["summary"] = r.Summary
	}
	if r.Description != "" {
		ann["description"] = r.Description
	}
	return store.AlertSpec{Rule: r.Name, HostID: h.ID, Subject: subject, Severity: severity, Labels: labels, Annotations: ann}
}

func hostName(h *hostInfo) string {
	if h.Hostname != "" {
		return h.Hostname
	}
	return "host " + strconv.FormatInt(h.ID, 10)
}

// capText cuts s to n bytes on a rune boundary.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func evidenceText(ev []policy.Evidence, errText string) string {
	var b strings.Builder
	if errText != "" {
		b.WriteString("error: " + errText + "\n")
	}
	for _, e := range ev {
		if e.Passed {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", e.Check, e.Detail)
	}
	return capText(strings.TrimRight(b.String(), "\n"), maxEvidence)
}

// policySpec is the alert for one failing result, or false when rule r
// does not concern it.
func (p *passState) policySpec(ctx context.Context, r alertconf.Rule, res store.HostResult) (store.AlertSpec, bool, error) {
	if res.Status == policy.StatusExempt || !r.Fires(string(res.Status)) {
		return store.AlertSpec{}, false, nil
	}
	sp, ok := p.policies[res.PolicyID]
	if !ok || !r.PolicyMatches(sp.Policy.ID, sp.Policy.Severity, sp.Policy.Tags) {
		return store.AlertSpec{}, false, nil
	}
	h, err := p.host(ctx, res.HostID)
	if err != nil {
		return store.AlertSpec{}, false, err
	}
	pol := sp.Policy
	verb := "is failing"
	if res.Status == policy.StatusError {
		verb = "could not be checked"
	}
	ann := map[string]string{
		"summary":     fmt.Sprintf("%s: policy %s %s", hostName(h), pol.ID, verb),
		"description": strings.TrimSpace(pol.Title + "\n" + pol.Remediation),
		"evidence":    evidenceText(res.Evidence, res.Error),
		"since":       res.Since.UTC().Format(time.RFC3339),
	}
	return spec(r, h, pol.ID, r.AlertSeverity(pol.Severity), map[string]string{"policy": pol.ID}, ann), true, nil
}

// policySweep reconciles a policy_failing rule over every host, reading
// each concerned policy's failing results.
func (p *passState) policySweep(ctx context.Context, r alertconf.Rule) error {
	if err := p.loadPolicies(ctx); err != nil {
		return err
	}
	want := map[key]store.AlertSpec{}
	for _, sp := range p.policies {
		if !r.PolicyMatches(sp.Policy.ID, sp.Policy.Severity, sp.Policy.Tags) {
			continue
		}
		for _, st := range []policy.Status{policy.StatusFail, policy.StatusError} {
			if !r.Fires(string(st)) {
				continue
			}
			for after := int64(0); ; {
				page, err := p.e.st.PolicyResults(ctx, store.ResultQuery{PolicyID: sp.Policy.ID, Status: st, At: p.now,
					AfterHostID: after, Limit: hostPage})
				if err != nil {
					return fmt.Errorf("results of %s: %w", sp.Policy.ID, err)
				}
				ids := make([]int64, len(page))
				for i, res := range page {
					ids[i] = res.HostID
				}
				if err := p.prefetch(ctx, ids); err != nil {
					return err
				}
				for _, res := range page {
					s, ok, err := p.policySpec(ctx, r, res)
					if err != nil {
						return err
					}
					if ok {
						want[key{res.HostID, s.Subject}] = s
					}
				}
				if len(page) < hostPage {
					break
				}
				after = page[len(page)-1].HostID
			}
		}
	}
	return p.reconcile(ctx, r, nil, want)
}

// policyHosts reconciles a policy_failing rule over the hosts whose
// results changed.
func (p *passState) policyHosts(ctx context.Context, r alertconf.Rule, hosts []int64) error {
	if err := p.loadPolicies(ctx); err != nil {
		return err
	}
	want := map[key]store.AlertSpec{}
	for _, h := range hosts {
		for _, res := range p.results[h] {
			s, ok, err := p.policySpec(ctx, r, res)
			if err != nil {
				return err
			}
			if ok {
				want[key{h, s.Subject}] = s
			}
		}
	}
	return p.reconcile(ctx, r, hosts, want)
}

// inventoryChanges reconciles an inventory_change rule: a matching change first
// seen within ResolveAfter keeps its episode open. hosts nil means every
// host.
func (p *passState) inventoryChanges(ctx context.Context, r alertconf.Rule, hosts []int64) error {
	since := p.now.Add(-r.ResolveAfter)
	want := map[key]store.AlertSpec{}
	add := func(c store.Change) error {
		if !r.ChangeMatches(c.Kind, c.Subject) {
			return nil
		}
		k := key{c.HostID, c.Kind + ":" + c.Subject}
		if _, ok := want[k]; ok {
			return nil // newest first: the latest change describes the episode
		}
		h, err := p.host(ctx, c.HostID)
		if err != nil {
			return err
		}
		ev := strings.TrimSpace(c.OldValue + " → " + c.NewValue)
		if c.OldValue == "" {
			ev = c.NewValue
		}
		ann := map[string]string{
			"summary":     fmt.Sprintf("%s: %s %s", hostName(h), strings.ReplaceAll(c.Kind, "_", " "), c.Subject),
			"description": fmt.Sprintf("Inventory change first seen %s.", c.FirstSeen.UTC().Format(time.RFC3339)),
			"evidence":    capText(ev, maxEvidence),
		}
		want[k] = spec(r, h, k.subject, r.Severity, map[string]string{"kind": c.Kind}, ann)
		return nil
	}
	read := func(host int64) error {
		q := store.ChangeQuery{HostID: host, Kinds: r.Kinds, Since: since, Limit: hostPage}
		for {
			page, err := p.e.st.ListChanges(ctx, q)
			if errors.Is(err, store.ErrNotFound) {
				return nil // the host is gone
			}
			if err != nil {
				return fmt.Errorf("changes: %w", err)
			}
			ids := make([]int64, len(page))
			for i, c := range page {
				ids[i] = c.HostID
			}
			if err := p.prefetch(ctx, ids); err != nil {
				return err
			}
			for _, c := range page {
				if err := add(c); err != nil {
					return err
				}
			}
			if len(page) < hostPage {
				return nil
			}
			last := page[len(page)-1]
			q.AfterFirstSeen, q.AfterID = last.FirstSeen, last.ID
		}
	}
	if hosts == nil {
		if err := read(0); err != nil {
			return err
		}
	} else {
		for _, h := range hosts {
			if err := read(h); err != nil {
				return err
			}
		}
	}
	return p.reconcile(ctx, r, hosts, want)
}

// exprSpec evaluates an expr rule on one host's stored inventory.
func (p *passState) exprSpec(ctx context.Context, r alertconf.Rule, hostID int64, os string) (store.AlertSpec, bool, error) {
	stored, err := p.e.st.Inventory(ctx, hostID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(stored.Sections) == 0) {
		return store.AlertSpec{}, false, nil
	}
	if err != nil {
		return store.AlertSpec{}, false, fmt.Errorf("inventory of host %d: %w", hostID, err)
	}
	doc := inventory.Document{CollectedAt: stored.CollectedAt, Sections: stored.Sections, Errors: stored.Errors}
	res := policy.Evaluate(ctx, alertconf.ExprPolicy(r.Name, r.Expr), policy.InventoryEnv(doc, platformOf(os)))
	if res.Status != policy.StatusPass {
		// false, or an expression this inventory cannot answer (a
		// missing section): no alert, as for a failing policy's n/a.
		return store.AlertSpec{}, false, nil
	}
	hi, err := p.host(ctx, hostID)
	if err != nil {
		return store.AlertSpec{}, false, err
	}
	ann := map[string]string{
		"summary":     fmt.Sprintf("%s: %s", hostName(hi), r.Name),
		"description": "The host's inventory satisfies: " + r.Expr,
		"evidence":    capText(r.Expr, maxEvidence),
	}
	return spec(r, hi, "", r.Severity, nil, ann), true, nil
}

func platformOf(os string) string {
	switch os {
	case "linux", "windows", "darwin":
		return os
	}
	return ""
}

// exprHosts reconciles an expr rule over hosts whose inventory changed.
func (p *passState) exprHosts(ctx context.Context, r alertconf.Rule, hosts []int64) error {
	want := map[key]store.AlertSpec{}
	if err := p.prefetch(ctx, hosts); err != nil {
		return err
	}
	for _, id := range hosts {
		hi, err := p.host(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		s, ok, err := p.exprSpec(ctx, r, hi.ID, hi.OS)
		if err != nil {
			return err
		}
		if ok {
			want[key{id, ""}] = s
		}
	}
	return p.reconcile(ctx, r, hosts, want)
}

// eachHost calls fn for every host, a page at a time.
func (p *passState) eachHost(ctx context.Context, fn func(store.Host) error) error {
	pg := store.HostPage{Limit: hostPage}
	for {
		hosts, err := p.e.st.ListHosts(ctx, pg)
		if err != nil {
			return fmt.Errorf("list hosts: %w", err)
		}
		for _, h := range hosts {
			if err := fn(h); err != nil {
				return err
			}
		}
		if len(hosts) < hostPage {
			return nil
		}
		last := hosts[len(hosts)-1]
		pg.AfterHostname, pg.AfterID = last.Hostname, last.ID
	}
}

// exprAll reconciles an expr rule over every host.
func (p *passState) exprAll(ctx context.Context, r alertconf.Rule) error {
	want := map[key]store.AlertSpec{}
	err := p.eachHost(ctx, func(h store.Host) error {
		s, ok, err := p.exprSpec(ctx, r, h.ID, h.OS)
		if ok {
			want[key{h.ID, ""}] = s
		}
		return err
	})
	if err != nil {
		return err
	}
	return p.reconcile(ctx, r, nil, want)
}

// offline reconciles a host_offline rule. Contact counts from the later
// of the host's last message and the server's start, so a server that was
// down does not page for every host before agents could reconnect.
func (p *passState) offline(ctx context.Context, r alertconf.Rule) error {
	want := map[key]store.AlertSpec{}
	var quiet []store.Host
	err := p.eachHost(ctx, func(h store.Host) error {
		contact := h.EnrolledAt
		for _, t := range []time.Time{h.LastSeen, h.ConnectedAt, p.e.started} {
			if t.After(contact) {
				contact = t
			}
		}
		if p.now.Sub(contact) >= r.After {
			quiet = append(quiet, h)
		}
		return nil
	})
	if err != nil {
		return err
	}
	ids := make([]int64, len(quiet))
	for i, h := range quiet {
		ids[i] = h.ID
	}
	if err := p.prefetch(ctx, ids); err != nil {
		return err
	}
	for _, h := range quiet {
		hi, err := p.host(ctx, h.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		seen := "never"
		if !h.LastSeen.IsZero() {
			seen = h.LastSeen.UTC().Format(time.RFC3339)
		}
		ann := map[string]string{
			"summary":     fmt.Sprintf("%s has not been in contact for %s", hostName(hi), r.After),
			"description": "Last message from its agent: " + seen + ".",
		}
		want[key{h.ID, ""}] = spec(r, hi, "", r.Severity, nil, ann)
	}
	return p.reconcile(ctx, r, nil, want)
}
