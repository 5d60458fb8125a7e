package alertconf

import (
	"reflect"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/alerting/notify"
)

// receiverTypes maps each receiver type key (pagerduty, webhook...) to
// its field of notify.Config, read from that struct's yaml tags so that a
// receiver type added there is accepted here.
var receiverTypes = sync.OnceValue(func() map[string][]int {
	return structKeys(reflect.TypeFor[notify.Config]())
})

// ReceiverTypes lists the receiver type keys, sorted.
func ReceiverTypes() []string {
	names := make([]string, 0, len(receiverTypes()))
	for k := range receiverTypes() {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func (p *parser) receivers(n *yaml.Node) []Receiver {
	items := p.list(n, "receivers")
	var out []Receiver
	seen := map[string]int{}
	types := receiverTypes()
	want := strings.Join(ReceiverTypes(), ", ")
	for i, item := range items {
		what := itemName(item, "receiver", "receivers", i)
		es, ok := p.entries(item, what)
		if !ok {
			continue
		}
		r := Receiver{Line: item.Line}
		f := fields{}
		var typed []entry
		unknownType := false
		for _, e := range es {
			k := e.key.Value
			_, isType := types[k]
			switch {
			case k == "name":
				f[k] = e
			case isType:
				typed = append(typed, e)
			case deref(e.val).Kind == yaml.MappingNode:
				p.errorf(e.key, "%s: unknown receiver type %s; want one of %s", what, k, want)
				unknownType = true
			default:
				p.errorf(e.key, "%s: unknown key %s (known: name and one of %s)", what, k, want)
			}
		}
		r.Name = p.name(f, item, what, freeNameRE, seen)
		before := len(p.problems)
		switch len(typed) {
		case 0:
			if !unknownType {
				p.errorf(item, "%s: no receiver type; give one of %s", what, want)
			}
		case 1:
		default:
			keys := make([]string, len(typed))
			for i, e := range typed {
				keys[i] = e.key.Value
			}
			p.errorf(item, "%s: has %d types (%s); give exactly one", what, len(typed), strings.Join(keys, ", "))
		}
		cfg := reflect.ValueOf(&r.Config).Elem()
		for _, e := range typed {
			p.decode(e.val, cfg.FieldByIndex(types[e.key.Value]), what, e.key.Value)
		}
		if len(typed) == 1 && len(p.problems) == before {
			if err := r.Config.Validate(); err != nil {
				p.errorf(typed[0].key, "%s: %v", what, err)
			}
		}
		out = append(out, r)
	}
	return out
}
