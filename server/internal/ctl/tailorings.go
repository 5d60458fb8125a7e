package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/steward-project/steward/server/internal/apiclient"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/shared/labels"
	"github.com/steward-project/steward/shared/policy"
)

// tailoringInput is what `tailorings apply` reads from its flags.
type tailoringInput struct {
	file   string
	name   string
	labels stringList
}

func tailoringPath(name string) string {
	return "/api/v1/tailorings/" + url.PathEscape(name)
}

// selectorText writes a selector as k=v pairs in key order; "*" for the
// empty selector, which selects every host.
func selectorText(sel map[string]string) string {
	if len(sel) == 0 {
		return "*"
	}
	parts := make([]string, 0, len(sel))
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

func tailoringsList(ctx context.Context, s *session) error {
	raw, err := s.client.Get(ctx, "/api/v1/tailorings", nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var list apitypes.TailoringList
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if len(list.Tailorings) == 0 && s.output == outputTable {
		return printf(s.out, "No tailorings (policy set revision %d).\n", list.Revision)
	}
	tw := newTable(s.out)
	tw.row("NAME", "SELECTOR", "POLICY", "PARAMETER", "VALUE")
	for _, t := range list.Tailorings {
		tailoringRows(tw, t)
	}
	return tw.Flush()
}

// tailoringRows adds one row per value of t, in policy and parameter
// order.
func tailoringRows(tw *table, t apitypes.Tailoring) {
	for _, id := range slices.Sorted(maps.Keys(t.Values)) {
		for _, name := range slices.Sorted(maps.Keys(t.Values[id])) {
			tw.row(t.Name, selectorText(t.Selector), id, name, t.Values[id][name])
		}
	}
}

func tailoringsShow(ctx context.Context, s *session, name string) error {
	raw, err := s.client.Get(ctx, tailoringPath(name), nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var t apitypes.Tailoring
	if err := json.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if s.output == outputCSV {
		tw := newTable(s.out)
		tw.row("NAME", "SELECTOR", "POLICY", "PARAMETER", "VALUE")
		tailoringRows(tw, t)
		return tw.Flush()
	}
	tw := newTable(s.out)
	tw.kv("Name", t.Name)
	tw.kv("Selector", selectorText(t.Selector))
	tw.kv("Updated", fmt.Sprintf("%s by %s (revision %d)", t.UpdatedAt.UTC().Format("2006-01-02 15:04:05Z"), t.UpdatedBy, t.UpdatedRevision))
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := printf(s.out, "\n"); err != nil {
		return err
	}
	tw = newTable(s.out)
	tw.row("POLICY", "PARAMETER", "VALUE")
	for _, id := range slices.Sorted(maps.Keys(t.Values)) {
		for _, p := range slices.Sorted(maps.Keys(t.Values[id])) {
			tw.row(id, p, t.Values[id][p])
		}
	}
	return tw.Flush()
}

// tailoringBody reads a tailoring file, the format `steward-agent check
// --tailoring` takes, into the body of a put for the hosts selected by
// the label flags. The file is checked here for its form, at FILE:LINE;
// the server checks its names and values against the policy set.
func tailoringBody(in tailoringInput) (apitypes.TailoringPut, error) {
	body := apitypes.TailoringPut{Name: in.name, Selector: map[string]string{}}
	for _, l := range in.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return body, &usageError{msg: fmt.Sprintf("--label %q: want KEY=VALUE", l)}
		}
		if _, dup := body.Selector[k]; dup {
			return body, &usageError{msg: fmt.Sprintf("--label %s given twice", k)}
		}
		body.Selector[k] = v
	}
	if err := labels.Check(body.Selector); err != nil {
		return body, &usageError{msg: "--label: " + err.Error()}
	}
	data, err := os.ReadFile(in.file)
	if err != nil {
		return body, err
	}
	t, err := policy.ParseTailoring(in.file, data)
	if err != nil {
		return body, err
	}
	var disabled []string
	for _, id := range slices.Sorted(maps.Keys(t.Policies)) {
		pt := t.Policies[id]
		if pt.Disabled {
			disabled = append(disabled, id)
			continue
		}
		if len(pt.Parameters) > 0 {
			if body.Values == nil {
				body.Values = map[string]map[string]string{}
			}
			body.Values[id] = pt.Parameters
		}
	}
	if len(disabled) > 0 {
		return body, fmt.Errorf("%s: disables %s: a tailoring on the server sets parameter values only; "+
			"leave a policy out of the set, or exempt the hosts, instead", in.file, strings.Join(disabled, ", "))
	}
	body.Parameters = t.Parameters
	return body, nil
}

func tailoringsApply(ctx context.Context, s *session, in tailoringInput) error {
	if in.file == "" || in.name == "" {
		return &usageError{msg: "-f FILE and --name NAME are required"}
	}
	body, err := tailoringBody(in)
	if err != nil {
		return err
	}
	raw, err := s.client.Do(ctx, http.MethodPut, tailoringPath(in.name), nil, body)
	if ps, ok := refusedFile(err); ok {
		for _, p := range ps {
			fmt.Fprintln(s.errOut, in.file+": "+p.String())
		}
		return &problemsError{problems: len(ps), files: 1}
	}
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var res apitypes.TailoringResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	switch {
	case !res.Changed:
		return printf(s.out, "Tailoring %s unchanged (policy set revision %d).\n", res.Name, res.Revision)
	case res.Created:
		return printf(s.out, "Tailoring %s created for %s: policy set revision %d.\n", res.Name, selectorText(body.Selector), res.Revision)
	default:
		return printf(s.out, "Tailoring %s replaced, for %s: policy set revision %d.\n", res.Name, selectorText(body.Selector), res.Revision)
	}
}

func tailoringsDelete(ctx context.Context, s *session, name string) error {
	raw, err := s.client.Do(ctx, http.MethodDelete, tailoringPath(name), nil, nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var res apitypes.TailoringResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return printf(s.out, "Tailoring %s deleted: policy set revision %d.\n", res.Name, res.Revision)
}

// serverTailorings reads the tailorings the server's policy set holds,
// for a signature to cover them; a server older than tailorings answers
// 404 and holds none.
func serverTailorings(ctx context.Context, s *session) ([]policy.LabelTailoring, error) {
	raw, err := s.client.Get(ctx, "/api/v1/tailorings", nil)
	var se *apiclient.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the server's tailorings: %w", err)
	}
	var list apitypes.TailoringList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decode tailorings: %w", err)
	}
	out := make([]policy.LabelTailoring, len(list.Tailorings))
	for i, t := range list.Tailorings {
		out[i] = policy.LabelTailoring{Name: t.Name, Selector: t.Selector, Values: t.Values}
	}
	return out, nil
}
