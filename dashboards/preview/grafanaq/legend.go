package grafanaq

import (
	"regexp"
	"sort"
	"strings"
)

var legendRE = regexp.MustCompile(`\{\{\s*(.+?)\s*\}\}`)

// Legend names a Prometheus series as Grafana does: the target's legend
// format with each {{label}} replaced by the series' value of it (an
// absent label gives ""), or, with no format (or "__auto"), the metric
// name followed by the other labels, {a="b", c="d"}.
func Legend(format string, labels map[string]string) string {
	if format != "" && format != "__auto" {
		return legendRE.ReplaceAllStringFunc(format, func(m string) string {
			return labels[legendRE.FindStringSubmatch(m)[1]]
		})
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + `="` + labels[k] + `"`
	}
	name := labels["__name__"]
	if len(parts) == 0 {
		if name == "" {
			return "Value"
		}
		return name
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}
