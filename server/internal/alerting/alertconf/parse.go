package alertconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Parse reads the `alerting:` section of file from n, the value node of
// the alerting key (nil, null or an empty mapping give Default()). It
// checks everything and is all-or-nothing: on any problem it returns the
// zero Config and an error joining one *Problem per problem, in file
// order, each formatted FILE:LINE: message.
func Parse(file string, n *yaml.Node) (Config, error) {
	p := &parser{file: file}
	c := p.config(n)
	if err := p.err(); err != nil {
		return Config{}, err
	}
	c.File = file
	return c, nil
}

// LoadFile reads the server config file at path and parses its alerting
// section; the file's other keys are not checked beyond being YAML. It is
// what a reload calls.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, YAMLError(path, err)
	}
	var section *yaml.Node
	if len(doc.Content) > 0 {
		top := deref(doc.Content[0])
		switch {
		case top.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(top.Content); i += 2 {
				if k := top.Content[i]; k.Value == "alerting" {
					if section != nil {
						return Config{}, &Problem{File: path, Line: k.Line, Message: "alerting is given twice"}
					}
					section = top.Content[i+1]
				}
			}
		case !isNull(top):
			return Config{}, &Problem{File: path, Line: top.Line, Message: "the config file must be a mapping of keys"}
		}
	}
	return Parse(path, section)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// YAMLError turns a YAML syntax error ("yaml: line 3: message") into a
// *Problem at that line of file.
func YAMLError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Problem{File: file, Line: line, Message: "invalid YAML: " + m[2]}
	}
	return &Problem{File: file, Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// parser collects the problems of one section.
type parser struct {
	file     string
	problems []*Problem
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	pr := &Problem{File: p.file, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line = n.Line
	}
	p.problems = append(p.problems, pr)
}

// err returns the problems in file order, nil when there are none.
func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
	errs := make([]error, len(p.problems))
	for i, pr := range p.problems {
		errs[i] = pr
	}
	return errors.Join(errs...)
}

var topKeys = []string{"external_url", "receivers", "routes", "rules", "maintenance_windows", "delivery", "sweep_interval"}

func (p *parser) config(n *yaml.Node) Config {
	c := Default()
	if n == nil || n.Kind == 0 || isNull(deref(n)) {
		return c
	}
	f := p.fields(n, "alerting", topKeys)
	if f == nil {
		return c
	}
	if v := f.val("external_url"); v != nil {
		c.ExternalURL = p.externalURL(v)
	}
	if v := f.val("sweep_interval"); v != nil {
		c.SweepInterval = p.duration(v, "alerting", "sweep_interval", time.Second, c.SweepInterval)
	}
	if v := f.val("delivery"); v != nil {
		c.Delivery = p.delivery(v)
	}
	// Receivers first, whatever the file's order: routes refer to them.
	c.Receivers = p.receivers(f.val("receivers"))
	c.Routes = p.routes(f.val("routes"), c.Receivers)
	c.Rules = p.rules(f.val("rules"))
	c.MaintenanceWindows = p.windows(f.val("maintenance_windows"))
	return c
}

func (p *parser) externalURL(v *yaml.Node) string {
	s, ok := p.str(v, "alerting", "external_url")
	if !ok || s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(deref(v), "alerting: external_url %q: want an absolute http:// or https:// URL", s)
		return ""
	}
	return strings.TrimRight(s, "/")
}

var deliveryKeys = []string{"timeout", "max_attempts", "backoff_base", "backoff_max", "workers", "per_receiver", "resend_interval"}

func (p *parser) delivery(n *yaml.Node) Delivery {
	d := DefaultDelivery()
	const what = "alerting.delivery"
	f := p.fields(n, what, deliveryKeys)
	if f == nil {
		return d
	}
	d.Timeout = p.duration(f.val("timeout"), what, "timeout", time.Millisecond, d.Timeout)
	d.MaxAttempts = p.positive(f.val("max_attempts"), what, "max_attempts", d.MaxAttempts)
	before := len(p.problems) // compare the backoffs only when both read well
	d.BackoffBase = p.duration(f.val("backoff_base"), what, "backoff_base", time.Millisecond, d.BackoffBase)
	d.BackoffMax = p.duration(f.val("backoff_max"), what, "backoff_max", time.Millisecond, d.BackoffMax)
	backoffOK := len(p.problems) == before
	d.Workers = p.positive(f.val("workers"), what, "workers", d.Workers)
	d.PerReceiver = p.positive(f.val("per_receiver"), what, "per_receiver", d.PerReceiver)
	d.ResendInterval = p.duration(f.val("resend_interval"), what, "resend_interval", time.Second, d.ResendInterval)
	if d.BackoffMax < d.BackoffBase && backoffOK {
		at := f.val("backoff_max")
		if at == nil {
			at = f.val("backoff_base")
		}
		p.errorf(deref(at), "%s: backoff_max %v is less than backoff_base %v", what, d.BackoffMax, d.BackoffBase)
	}
	return d
}

// list checks that n, when present, is a sequence and returns its items.
func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	if n == nil {
		return nil
	}
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "alerting: %s must be a list, not %s", what, kindName(n))
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		items[i] = deref(it)
	}
	return items
}

// nameRE is what rule names must look like; receiver and maintenance
// window names allow capitals and dots too.
var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	freeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

const maxNameLength = 64

// itemName reads the name key of a list item for use in messages, before
// the item is checked: `receiver "oncall"` or `receivers[2]`.
func itemName(n *yaml.Node, kind, list string, index int) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" {
				if v := deref(n.Content[i+1]); v.Kind == yaml.ScalarNode && v.Value != "" && len(v.Value) <= maxNameLength {
					return fmt.Sprintf("%s %q", kind, v.Value)
				}
			}
		}
	}
	return fmt.Sprintf("%s[%d]", list, index)
}

// name checks an item's name: present, well formed and not used by an
// earlier item (seen maps names to their lines).
func (p *parser) name(f fields, item *yaml.Node, what string, re *regexp.Regexp, seen map[string]int) string {
	v := f.val("name")
	if v == nil {
		p.errorf(item, "%s: name is required", what)
		return ""
	}
	s, ok := p.str(v, what, "name")
	if !ok {
		return ""
	}
	v = deref(v)
	switch {
	case s == "":
		p.errorf(v, "%s: name is required", what)
		return ""
	case len(s) > maxNameLength || !re.MatchString(s):
		p.errorf(v, "%s: name %q must match %s and be at most %d characters", what, s, re, maxNameLength)
		return ""
	}
	if first, dup := seen[s]; dup {
		p.errorf(v, "%s: duplicate name (first at line %d)", what, first)
		return s
	}
	seen[s] = v.Line
	return s
}
