package alertconf

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/shared/policy"
)

var commonRuleKeys = []string{"name", "type", "severity", "labels", "summary", "description"}

// ruleKeys lists the keys only one rule type takes.
var ruleKeys = map[string][]string{
	TypeHostOffline:     {"after"},
	TypePolicyFailing:   {"min_severity", "policies", "tags", "statuses"},
	TypeInventoryChange: {"kinds", "subject_matches", "resolve_after"},
	TypeExpr:            {"expr"},
}

// defaultSeverity is each rule type's severity when the rule gives none.
var defaultSeverity = map[string]string{
	TypeHostOffline:     policy.SeverityHigh,
	TypeInventoryChange: policy.SeverityMedium,
	TypeExpr:            policy.SeverityMedium,
}

// statuses a policy_failing rule may fire on.
var ruleStatuses = []string{string(policy.StatusFail), string(policy.StatusError)}

// policyIDRE is the form of a policy id (shared/policy checks the same).
var policyIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func allRuleKeys() []string {
	keys := slices.Clone(commonRuleKeys)
	for _, t := range RuleTypes {
		keys = append(keys, ruleKeys[t]...)
	}
	return keys
}

// ruleTypeOf returns the rule type a type-specific key belongs to.
func ruleTypeOf(key string) string {
	for t, keys := range ruleKeys {
		if slices.Contains(keys, key) {
			return t
		}
	}
	return ""
}

func (p *parser) rules(n *yaml.Node) []Rule {
	items := p.list(n, "rules")
	var out []Rule
	seen := map[string]int{}
	known := allRuleKeys()
	for i, item := range items {
		what := itemName(item, "rule", "rules", i)
		f := p.fields(item, what, known)
		if f == nil {
			continue
		}
		r := Rule{Line: item.Line}
		r.Name = p.name(f, item, what, nameRE, seen)
		r.Type = p.ruleType(f, item, what)
		for _, k := range known {
			if owner := ruleTypeOf(k); owner != "" && r.Type != "" && owner != r.Type && f.val(k) != nil {
				p.errorf(f[k].key, "%s: %s does not apply to %s rules (it is for %s rules)", what, k, r.Type, owner)
			}
		}
		r.Severity = p.severity(f.val("severity"), what, "severity")
		if r.Severity == "" {
			r.Severity = defaultSeverity[r.Type]
		}
		r.Labels = p.ruleLabels(f.val("labels"), what)
		r.Summary, _ = p.str(f.val("summary"), what, "summary")
		r.Description, _ = p.str(f.val("description"), what, "description")
		switch r.Type {
		case TypeHostOffline:
			if f.val("after") == nil {
				p.errorf(item, "%s: after is required: how long a host may go without contact", what)
			}
			r.After = p.duration(f.val("after"), what, "after", MinAfter, 0)
		case TypePolicyFailing:
			p.policyFailing(&r, f, what)
		case TypeInventoryChange:
			p.inventoryChange(&r, f, item, what)
		case TypeExpr:
			p.expr(&r, f, item, what)
		}
		out = append(out, r)
	}
	return out
}

func (p *parser) ruleType(f fields, item *yaml.Node, what string) string {
	want := strings.Join(RuleTypes, ", ")
	v := f.val("type")
	if v == nil {
		p.errorf(item, "%s: type is required: one of %s", what, want)
		return ""
	}
	t, ok := p.str(v, what, "type")
	if ok && !slices.Contains(RuleTypes, t) {
		p.errorf(deref(v), "%s: unknown rule type %q; want one of %s", what, t, want)
		return ""
	}
	return t
}

// severity reads an optional severity name.
func (p *parser) severity(n *yaml.Node, what, key string) string {
	s, ok := p.str(n, what, key)
	if !ok || s == "" {
		return ""
	}
	if SeverityRank(s) < 0 {
		p.errorf(deref(n), "%s: %s %q is not one of %s", what, key, s, strings.Join(severities, ", "))
		return ""
	}
	return s
}

func (p *parser) ruleLabels(n *yaml.Node, what string) map[string]string {
	if n == nil {
		return nil
	}
	what += ": labels"
	es, ok := p.entries(n, what)
	if !ok || len(es) == 0 {
		return nil
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		name := e.key.Value
		if !p.labelName(e.key, what) {
			continue
		}
		if slices.Contains(BuiltinLabels, name) {
			p.errorf(e.key, "%s: %s is set by the engine; pick another name", what, name)
			continue
		}
		if v, ok := p.str(e.val, what, name); ok {
			out[name] = v
		}
	}
	return out
}

func (p *parser) policyFailing(r *Rule, f fields, what string) {
	r.MinSeverity = p.severity(f.val("min_severity"), what, "min_severity")
	ids, nodes, _ := p.items(f.val("policies"), what, "policies")
	for i, id := range ids {
		if !policyIDRE.MatchString(id) {
			p.errorf(nodes[i], "%s: policies: %q is not a policy id (lower-case letters, digits and hyphens)", what, id)
			continue
		}
		r.Policies = appendNew(r.Policies, id)
	}
	tags, nodes, _ := p.items(f.val("tags"), what, "tags")
	for i, tag := range tags {
		if strings.TrimSpace(tag) == "" {
			p.errorf(nodes[i], "%s: tags: empty tag", what)
			continue
		}
		r.Tags = appendNew(r.Tags, tag)
	}
	r.Statuses = []string{string(policy.StatusFail)}
	if v := f.val("statuses"); v != nil {
		sts, nodes, ok := p.items(v, what, "statuses")
		if ok && len(sts) == 0 {
			p.errorf(deref(v), "%s: statuses must list fail, error or both", what)
		}
		r.Statuses = nil
		for i, st := range sts {
			if !slices.Contains(ruleStatuses, st) {
				p.errorf(nodes[i], "%s: statuses: %q is not one of %s", what, st, strings.Join(ruleStatuses, ", "))
				continue
			}
			r.Statuses = appendNew(r.Statuses, st)
		}
	}
}

// changeKinds are the kinds an inventory_change rule may name: every
// change kind except the first inventory, which is a baseline rather
// than a change.
func changeKinds() []string {
	return slices.DeleteFunc(slices.Clone(changes.Kinds), func(k string) bool { return k == changes.FirstInventory })
}

func (p *parser) inventoryChange(r *Rule, f fields, item *yaml.Node, what string) {
	kinds, nodes, ok := p.items(f.val("kinds"), what, "kinds")
	if ok && len(kinds) == 0 {
		p.errorf(item, "%s: kinds is required: the change kinds that raise the alert", what)
	}
	valid := changeKinds()
	for i, k := range kinds {
		if !slices.Contains(valid, k) {
			p.errorf(nodes[i], "%s: kinds: unknown change kind %q; want one of %s", what, k, strings.Join(valid, ", "))
			continue
		}
		r.Kinds = appendNew(r.Kinds, k)
	}
	if v := f.val("subject_matches"); v != nil {
		if s, ok := p.str(v, what, "subject_matches"); ok && s != "" {
			re, err := regexp.Compile(s)
			if err != nil {
				p.errorf(deref(v), "%s: subject_matches: invalid regular expression: %v", what, err)
			} else {
				r.SubjectMatches, r.subjectRE = s, re
			}
		}
	}
	r.ResolveAfter = p.duration(f.val("resolve_after"), what, "resolve_after", time.Second, DefaultResolveAfter)
}

func (p *parser) expr(r *Rule, f fields, item *yaml.Node, what string) {
	v := f.val("expr")
	s, ok := p.str(v, what, "expr")
	switch {
	case !ok:
		return
	case strings.TrimSpace(s) == "":
		p.errorf(item, "%s: expr is required: a CEL expression over inventory", what)
		return
	}
	if err := CheckExpr(s); err != nil {
		p.errorf(deref(v), "%s: expr: %v", what, err)
		return
	}
	r.Expr = s
}

// CheckExpr reports whether src is a CEL expression an expr rule can
// use: it compiles over `inventory` and gives a boolean, by the rules of
// a policy's expr check.
func CheckExpr(src string) error {
	err := policy.Validate("expr", []policy.Policy{ExprPolicy("check", src)})
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		msgs := make([]string, len(ve.Problems))
		for i, pr := range ve.Problems {
			msgs[i] = pr.Message
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// ExprPolicy wraps an expr rule's expression as a policy, which is how
// the engine evaluates it: policy.Evaluate with policy.InventoryEnv over
// the host's stored inventory (pass: the expression is true).
func ExprPolicy(rule, src string) policy.Policy {
	return policy.Policy{
		ID:       "alert-rule-" + strings.ReplaceAll(rule, "_", "-"),
		Title:    "alert rule " + rule,
		Severity: policy.SeverityMedium,
		Check:    policy.Check{Expr: src},
	}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Fires reports whether a policy result status concerns a policy_failing
// rule: it is one of Statuses (fail when Statuses is empty).
func (r Rule) Fires(status string) bool {
	if len(r.Statuses) == 0 {
		return status == string(policy.StatusFail)
	}
	return slices.Contains(r.Statuses, status)
}

// PolicyMatches reports whether a policy_failing rule looks at the policy
// with this id, severity and tags: the policy passes MinSeverity, is one
// of Policies (when set) and has one of Tags (when set).
func (r Rule) PolicyMatches(id, severity string, tags []string) bool {
	if !SeverityAtLeast(severity, r.MinSeverity) {
		return false
	}
	if len(r.Policies) > 0 && !slices.Contains(r.Policies, id) {
		return false
	}
	if len(r.Tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(r.Tags, t) }) {
		return false
	}
	return true
}

// AlertSeverity is the severity of the rule's alerts: the rule's own, or
// for a policy_failing rule without one, the policy's.
func (r Rule) AlertSeverity(policySeverity string) string {
	if r.Severity != "" {
		return r.Severity
	}
	return policySeverity
}

// ChangeMatches reports whether an inventory_change rule fires on a change
// of this kind and subject.
func (r Rule) ChangeMatches(kind, subject string) bool {
	if !slices.Contains(r.Kinds, kind) {
		return false
	}
	if r.SubjectMatches == "" {
		return true
	}
	re := r.subjectRE
	if re == nil { // a Rule built in code rather than parsed
		var err error
		if re, err = regexp.Compile(r.SubjectMatches); err != nil {
			return false
		}
	}
	return re.MatchString(subject)
}
