package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/apiclient"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/shared/policy"
)

// policyFile is one local file to apply.
type policyFile struct {
	path string
	data []byte
}

// policyFileExts are the files a directory contributes, as policy.Load
// reads them.
var policyFileExts = []string{".yaml", ".yml", ".json"}

// readPolicyFiles reads each path, or every policy file beneath a
// directory, in lexical order.
func readPolicyFiles(paths []string) ([]policyFile, error) {
	var out []policyFile
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read policies: %w", err)
		}
		if !fi.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read policies: %w", err)
			}
			out = append(out, policyFile{path: p, data: data})
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && slices.Contains(policyFileExts, strings.ToLower(filepath.Ext(path))) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read policies: %w", err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("read policies: no *.yaml, *.yml or *.json files under %s", p)
		}
		for _, path := range found {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read policies: %w", err)
			}
			out = append(out, policyFile{path: path, data: data})
		}
	}
	return out, nil
}

// problemsError is a refusal whose problems were printed already.
type problemsError struct{ problems, files int }

func (e *problemsError) Error() string {
	return fmt.Sprintf("%d problem(s) in %d file(s); nothing applied", e.problems, e.files)
}

// fileResult is one file's outcome in `policies apply`.
type fileResult struct {
	File string `json:"file"`
	apitypes.ApplyResult
}

// policiesApply sends every file in one request: the server checks them
// all, refuses them all on any problem or on an id in two files, and
// otherwise applies them as one policy set revision, pushed to agents
// once.
func policiesApply(ctx context.Context, s *session, paths []string, validateOnly bool) error {
	if len(paths) == 0 {
		return &usageError{msg: "policies apply needs -f FILE or -f DIR"}
	}
	files, err := readPolicyFiles(paths)
	if err != nil {
		return err
	}
	res, err := sendPolicyFiles(ctx, s, files, validateOnly)
	if err != nil {
		return err
	}
	results := make([]fileResult, len(res.Files))
	for i, f := range res.Files {
		results[i] = fileResult{File: f.File, ApplyResult: apitypes.ApplyResult{
			Revision: res.Revision, ValidateOnly: validateOnly,
			Applied: append(slices.Clone(f.Added), f.Updated...), Added: f.Added, Updated: f.Updated, Unchanged: f.Unchanged,
		}}
	}
	rev := res.Revision
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Revision     int64        `json:"revision"`
			ValidateOnly bool         `json:"validate_only"`
			Files        []fileResult `json:"files"`
		}{rev, validateOnly, results})
	}
	tw := newTable(s.out)
	tw.row("POLICY", "FILE", "CHANGE")
	verb := map[bool][2]string{false: {"added", "updated"}, true: {"would be added", "would be updated"}}[validateOnly]
	for _, r := range results {
		for _, row := range []struct {
			ids  []string
			what string
		}{{r.Added, verb[0]}, {r.Updated, verb[1]}, {r.Unchanged, "unchanged"}} {
			for _, id := range row.ids {
				tw.row(id, r.File, row.what)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if validateOnly {
		_, err = fmt.Fprintf(s.out, "Valid; nothing applied (applying would make the policy set revision %d).\n", rev)
	} else {
		_, err = fmt.Fprintf(s.out, "Policy set revision %d.\n", rev)
	}
	return err
}

// sendPolicyFiles posts the files as one multipart/form-data request,
// each part named by its local path, which the server reports problems
// under. Validation problems are printed before the error is returned.
func sendPolicyFiles(ctx context.Context, s *session, files []policyFile, validateOnly bool) (apitypes.ApplyResult, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": f.path}))
		h.Set("Content-Type", contentType(f.path))
		pw, err := mw.CreatePart(h)
		if err != nil {
			return apitypes.ApplyResult{}, err
		}
		pw.Write(f.data) // writes to a bytes.Buffer do not fail
	}
	if err := mw.Close(); err != nil {
		return apitypes.ApplyResult{}, err
	}
	q := url.Values{}
	if validateOnly {
		q.Set("validate_only", "true")
	}
	raw, err := s.client.Send(ctx, http.MethodPost, "/api/v1/policies", q, mw.FormDataContentType(), body.Bytes())
	if ps, ok := refusedFile(err); ok {
		bad := map[string]bool{}
		for _, p := range ps {
			printf(s.errOut, "%s\n", p.String())
			bad[p.File] = true
		}
		return apitypes.ApplyResult{}, &problemsError{problems: len(ps), files: len(bad)}
	}
	if err != nil {
		return apitypes.ApplyResult{}, err
	}
	var r apitypes.ApplyResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return apitypes.ApplyResult{}, fmt.Errorf("decode answer: %w", err)
	}
	if len(r.Files) != len(files) {
		return apitypes.ApplyResult{}, fmt.Errorf("the server answered for %d of %d files: is it older than this stewardctl?", len(r.Files), len(files))
	}
	return r, nil
}

// refusedFile returns the problems of a 400 that refused policy files.
func refusedFile(err error) ([]policy.Problem, bool) {
	var se *apiclient.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Body == nil {
		return nil, false
	}
	var body apitypes.Error
	if json.Unmarshal(se.Body, &body) != nil || len(body.Problems) == 0 {
		return nil, false
	}
	return body.Problems, true
}

func contentType(path string) string {
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return "application/json"
	}
	return "application/yaml"
}

func policiesList(ctx context.Context, s *session, limit int) error {
	return policiesListRef(ctx, s, limit, "")
}

// policiesListRef lists the policies, only those with reference when it
// is set (cis:5.4.1.1, or cis for any cis reference).
func policiesListRef(ctx context.Context, s *session, limit int, reference string) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if reference != "" {
		q.Set("reference", reference)
	}
	items, err := collectPages(ctx, s.client, "/api/v1/policies", q, "policies")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Policies []json.RawMessage `json:"policies"`
		}{items})
	}
	ps, err := decodeAll[apitypes.Policy](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("ID", "SEVERITY", "PLATFORMS", "PASS", "FAIL", "N/A", "ERROR", "EXEMPT", "TITLE")
	for _, p := range ps {
		c := p.Counts
		tw.row(p.ID, p.Severity, policy.FormatPlatforms(p.Platforms),
			c.Pass, c.Fail, c.NotApplicable, c.Error, c.Exempt, p.Title)
	}
	return tw.Flush()
}

func policiesShow(ctx context.Context, s *session, id string) error {
	raw, err := s.client.Get(ctx, "/api/v1/policies/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var p apitypes.Policy
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("decode policy: %w", err)
	}
	c := p.Counts
	tw := newTable(s.out)
	tw.kv("ID", p.ID)
	tw.kv("Title", p.Title)
	tw.kv("Severity", p.Severity)
	tw.kv("Platforms", policy.FormatPlatforms(p.Platforms))
	tw.kv("Tags", cell(strings.Join(p.Tags, ", ")))
	if len(p.References) > 0 {
		tw.kv("References", cell(referencesText(p.References)))
	}
	tw.kv("Evaluated by", map[bool]string{true: "the server (expr only) and agents", false: "agents"}[p.ExprOnly])
	tw.kv("Revision", fmt.Sprintf("%d (updated %s)", p.UpdatedRevision, timeCell(p.UpdatedAt, "-")))
	tw.kv("Results", fmt.Sprintf("%d pass, %d fail, %d n/a, %d error, %d exempt", c.Pass, c.Fail, c.NotApplicable, c.Error, c.Exempt))
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.Policy == nil {
		return nil
	}
	// The check tree as YAML, the way it was written.
	var tree struct {
		Rationale   string        `yaml:"rationale,omitempty"`
		Remediation string        `yaml:"remediation,omitempty"`
		Fix         *policy.Fix   `yaml:"fix,omitempty"`
		AppliesIf   *policy.Check `yaml:"applies_if,omitempty"`
		Check       policy.Check  `yaml:"check"`
	}
	tree.Rationale, tree.Remediation, tree.AppliesIf, tree.Check = p.Policy.Rationale, p.Policy.Remediation, p.Policy.AppliesIf, p.Policy.Check
	tree.Fix = p.Policy.Fix
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(tree); err != nil {
		return fmt.Errorf("encode check: %w", err)
	}
	_, err = fmt.Fprintf(s.out, "\n%s", body.Bytes())
	return err
}

func policiesDelete(ctx context.Context, s *session, id string) error {
	raw, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/policies/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var d apitypes.DeleteResult
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	err = printf(s.out, "Deleted policy %s; policy set revision %d.\n", d.Deleted, d.Revision)
	return err
}

// hostsCheck asks the server to send check_now to the host's agent.
func hostsCheck(ctx context.Context, s *session, id string) error {
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/hosts/"+url.PathEscape(id)+"/check", nil, nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	err = printf(s.out, "Asked host %s's agent to evaluate its policies now; results follow as they change.\n", id)
	return err
}
