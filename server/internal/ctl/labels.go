package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/shared/labels"
)

// hostsLabel sets and removes labels of a host. The API replaces the
// whole set, so the current labels are read first and only the named
// keys change. With nothing to change it just prints the labels.
func hostsLabel(ctx context.Context, s *session, args []string, remove []string) error {
	id, err := parseID("host", args[0])
	if err != nil {
		return err
	}
	set := map[string]string{}
	for _, pair := range args[1:] {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return &usageError{msg: fmt.Sprintf("label %q: want KEY=VALUE", pair)}
		}
		if _, dup := set[k]; dup {
			return &usageError{msg: fmt.Sprintf("label %s given twice", k)}
		}
		set[k] = v
	}
	for _, k := range remove {
		if _, both := set[k]; both {
			return &usageError{msg: fmt.Sprintf("label %s is both set and removed", k)}
		}
		if k == "" {
			return &usageError{msg: "--remove needs a label key"}
		}
	}
	path := "/api/v1/hosts/" + strconv.FormatInt(id, 10) + "/labels"
	raw, err := s.client.Get(ctx, path, nil)
	if err != nil {
		return err
	}
	cur, err := decodeLabels(raw)
	if err != nil {
		return err
	}
	next := maps.Clone(cur.Labels)
	if next == nil {
		next = map[string]string{}
	}
	maps.Copy(next, set)
	for _, k := range remove {
		delete(next, k)
	}
	if !maps.Equal(next, cur.Labels) {
		if err := labels.Check(next); err != nil {
			return &usageError{msg: err.Error()}
		}
		if raw, err = s.client.Do(ctx, http.MethodPut, path, nil, apitypes.Labels{Labels: next}); err != nil {
			return err
		}
		if cur, err = decodeLabels(raw); err != nil {
			return err
		}
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	if len(cur.Labels) == 0 {
		return printf(s.out, "Host %d has no labels.\n", id)
	}
	tw := newTable(s.out)
	tw.row("KEY", "VALUE")
	for _, k := range slices.Sorted(maps.Keys(cur.Labels)) {
		tw.row(k, cell(cur.Labels[k]))
	}
	return tw.Flush()
}

func decodeLabels(raw json.RawMessage) (apitypes.Labels, error) {
	var l apitypes.Labels
	if err := json.Unmarshal(raw, &l); err != nil {
		return l, fmt.Errorf("decode labels: %w", err)
	}
	return l, nil
}

// labelsCell shows labels on one line, by key: "env=prod, team=web".
func labelsCell(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return cell(strings.Join(parts, ", "))
}
