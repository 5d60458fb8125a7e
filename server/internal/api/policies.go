package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// MaxPolicyFileBytes bounds a policy file upload. The baseline pack is a
// few dozen KiB; a file a hundred times larger is a mistake.
const MaxPolicyFileBytes = 4 << 20

// MaxPolicyUploadBytes bounds a several-file upload as a whole, and
// maxPolicyFiles the number of files in it.
const (
	MaxPolicyUploadBytes = 4 * MaxPolicyFileBytes
	maxPolicyFiles       = 1000
)

func countsView(c store.PolicyCounts) apitypes.PolicyCounts {
	return apitypes.PolicyCounts{Pass: c.Pass, Fail: c.Fail, NotApplicable: c.NotApplicable, Error: c.Error,
		Exempt: c.Exempt, Total: c.Total()}
}

// policyCursor is the keyset of the last policy on a page.
type policyCursor struct {
	ID string `json:"id"`
}

func (c policyCursor) valid() bool { return c.ID != "" }

func policyView(p store.StoredPolicy, counts store.PolicyCounts) apitypes.Policy {
	return apitypes.Policy{ID: p.Policy.ID, Title: p.Policy.Title, Severity: p.Policy.Severity,
		Platforms: nonNilSlice(p.Policy.Platforms), Tags: nonNilSlice(p.Policy.Tags), References: p.Policy.References, ExprOnly: p.ExprOnly,
		UpdatedRevision: p.UpdatedRevision, CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt),
		Counts: countsView(counts)}
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// policyFileTypes are the Content-Types a policy file may come as; none
// at all is accepted too, and Parse tells YAML from JSON by content.
var policyFileTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json"}

// applyPolicies validates policy files and, unless validate_only, adds
// their policies and replaces those with the same ids, all under one new
// revision with one push to agents. Policies in no file are kept: files
// are applied, not synchronized. The body is one policy file (YAML or
// JSON, named by ?filename=), or several as multipart/form-data, each
// part named by its filename; an id in two files refuses them all.
func (s *server) applyPolicies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	validateOnly := false
	if v := q.Get("validate_only"); v != "" {
		var err error
		if validateOnly, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("validate_only must be true or false, got %q", v))
			return
		}
	}
	var files []policy.NamedFile
	multi := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == "multipart/form-data":
			multi = true
			var ok bool
			if files, ok = readPolicyParts(w, r, params["boundary"]); !ok {
				return
			}
		case err != nil || !slices.Contains(policyFileTypes, mt):
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
				"Content-Type %q: send a policy file as %s, or several as multipart/form-data",
				ct, strings.Join(policyFileTypes, ", ")))
			return
		}
	}
	if !multi {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPolicyFileBytes))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("policy file larger than %d bytes", MaxPolicyFileBytes))
			return
		}
		files = []policy.NamedFile{{Name: policyFileName(q.Get("filename")), Data: body}}
	}
	perFile, err := policy.ParseFiles(files)
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		what := files[0].Name
		if multi {
			bad := map[string]bool{}
			for _, p := range ve.Problems {
				bad[p.File] = true
			}
			what = fmt.Sprintf("%d file(s)", len(bad))
		}
		writeJSON(w, http.StatusBadRequest, apitypes.Error{
			Error:    fmt.Sprintf("%s rejected, nothing applied: %d problem(s)", what, len(ve.Problems)),
			Problems: ve.Problems,
		})
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("policy files rejected, nothing applied: %v", err))
		return
	}
	var specs []store.PolicySpec
	fileOf := map[string]int{}
	for i, ps := range perFile {
		if len(ps) == 0 {
			writeError(w, http.StatusBadRequest, files[i].Name+" holds no policies")
			return
		}
		for _, p := range ps {
			fileOf[p.ID] = i
			specs = append(specs, store.PolicySpec{Policy: p, ExprOnly: policy.ExprOnly(p)})
		}
	}
	if s.setTooLarge(w, r, specs, false) {
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	res, err := s.store.ApplyPolicies(r.Context(), store.PolicyApply{Policies: specs, Actor: actor, At: s.now(), DryRun: validateOnly})
	if err != nil {
		s.storeFailed(w, r, "apply policies", err)
		return
	}
	changed := len(res.Added)+len(res.Updated) > 0
	if changed && !validateOnly {
		s.log.Info("policies applied", "revision", res.Revision, "files", len(files), "added", res.Added,
			"updated", res.Updated, "actor", actor)
		s.changed(res.Revision)
	}
	out := apitypes.ApplyResult{
		Revision: res.Revision, ValidateOnly: validateOnly,
		Applied: append(nonNilSlice(res.Added), res.Updated...), Added: nonNilSlice(res.Added),
		Updated: nonNilSlice(res.Updated), Unchanged: nonNilSlice(res.Unchanged),
	}
	if multi {
		out.Files = make([]apitypes.FileResult, len(files))
		for i, f := range files {
			out.Files[i] = apitypes.FileResult{File: f.Name, Added: []string{}, Updated: []string{}, Unchanged: []string{}}
		}
		for _, id := range res.Added {
			out.Files[fileOf[id]].Added = append(out.Files[fileOf[id]].Added, id)
		}
		for _, id := range res.Updated {
			out.Files[fileOf[id]].Updated = append(out.Files[fileOf[id]].Updated, id)
		}
		for _, id := range res.Unchanged {
			out.Files[fileOf[id]].Unchanged = append(out.Files[fileOf[id]].Unchanged, id)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// readPolicyParts reads a multipart/form-data body of policy files. Each
// part is one file, named in problems by its filename parameter as the
// client sent it (directories kept, so that two files of one name in
// different directories stay apart); two parts of one name are refused.
func readPolicyParts(w http.ResponseWriter, r *http.Request, boundary string) ([]policy.NamedFile, bool) {
	if boundary == "" {
		writeError(w, http.StatusBadRequest, "multipart/form-data without a boundary")
		return nil, false
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, MaxPolicyUploadBytes), boundary)
	var files []policy.NamedFile
	seen := map[string]bool{}
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("policy files larger than %d bytes together", MaxPolicyUploadBytes))
			return nil, false
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("multipart body: %v", err))
			return nil, false
		}
		_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		name := partFileName(params["filename"])
		if name == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("multipart part %d has no filename: send each policy file as a file part", len(files)+1))
			return nil, false
		}
		if seen[name] {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("two files named %s", name))
			return nil, false
		}
		seen[name] = true
		if len(files) == maxPolicyFiles {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d policy files", maxPolicyFiles))
			return nil, false
		}
		data, err := io.ReadAll(io.LimitReader(part, MaxPolicyFileBytes+1))
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("policy files larger than %d bytes together", MaxPolicyUploadBytes))
			return nil, false
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("multipart body: %v", err))
			return nil, false
		}
		if len(data) > MaxPolicyFileBytes {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: policy file larger than %d bytes", name, MaxPolicyFileBytes))
			return nil, false
		}
		files = append(files, policy.NamedFile{Name: name, Data: data})
	}
	if len(files) == 0 {
		writeError(w, http.StatusBadRequest, "multipart body holds no policy files")
		return nil, false
	}
	return files, true
}

// partFileName cleans a multipart filename for problems: slashes for
// backslashes, no control characters, at most 1024 bytes; "" when none
// is left.
func partFileName(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, `\`, "/"))
	if len(s) > 1024 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return ""
	}
	return s
}

// policyFileName is the name problems are reported under: the client's
// file name without its directories, or "request body".
func policyFileName(s string) string {
	s = path.Base(strings.ReplaceAll(strings.TrimSpace(s), `\`, "/"))
	if s == "" || s == "." || s == "/" || len(s) > 255 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' }) {
		return "request body"
	}
	return s
}

// actor names who makes a change, for the audit log: the name of the
// admin token the request carries. authenticate checked the token just
// before; a token revoked in between is refused here.
func (s *server) actor(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, _ := bearerToken(r.Header.Get("Authorization"))
	name, err := s.store.AdminTokenName(r.Context(), auth.Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "invalid or revoked admin token")
		return "", false
	}
	if err != nil {
		s.storeFailed(w, r, "name admin token", err)
		return "", false
	}
	return name, true
}

// listPolicies serves the policy set a page at a time, each policy with
// its counts.
func (s *server) listPolicies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, after, err := readPage[policyCursor](q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The revision is read first: a set that changes while the page is
	// read then reports an older revision, never a newer one it lacks.
	rev, err := s.store.PolicyRevision(r.Context())
	if err != nil {
		s.storeFailed(w, r, "policy revision", err)
		return
	}
	ref := q.Get("reference")
	if err := checkReference(ref); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// With ?reference= the whole rest of the set is read and filtered
	// here: a policy set is hundreds of policies, not millions.
	fetch := limit + 1
	if ref != "" {
		fetch = 0
	}
	rows, err := s.store.ListPolicies(r.Context(), after.ID, fetch)
	if err != nil {
		s.storeFailed(w, r, "list policies", err)
		return
	}
	if ref != "" {
		rows = slices.DeleteFunc(rows, func(p store.StoredPolicy) bool { return !matchesReference(p.Policy.References, ref) })
		rows = rows[:min(len(rows), limit+1)]
	}
	counts, err := s.countsByPolicy(r)
	if err != nil {
		s.storeFailed(w, r, "compliance", err)
		return
	}
	sig, err := s.signatureInfo(r, rev)
	if err != nil {
		s.storeFailed(w, r, "policy signature", err)
		return
	}
	out := apitypes.PolicyList{Revision: rev, Signature: sig, Policies: make([]apitypes.Policy, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.StoredPolicy) policyCursor { return policyCursor{ID: last.Policy.ID} })
	for _, p := range rows {
		out.Policies = append(out.Policies, policyView(p, counts[p.Policy.ID]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) countsByPolicy(r *http.Request) (map[string]store.PolicyCounts, error) {
	cs, err := s.store.Compliance(r.Context(), s.now())
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.PolicyCounts, len(cs))
	for _, c := range cs {
		m[c.PolicyID] = c
	}
	return m, nil
}

// lookupPolicy reads the {id} policy, answering 404 or 503 itself.
func (s *server) lookupPolicy(w http.ResponseWriter, r *http.Request) (store.StoredPolicy, bool) {
	id := r.PathValue("id")
	p, err := s.store.GetPolicy(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("policy %q not found", id))
		return p, false
	}
	if err != nil {
		s.storeFailed(w, r, "get policy", err)
		return p, false
	}
	return p, true
}

func (s *server) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, ok := s.lookupPolicy(w, r)
	if !ok {
		return
	}
	counts, err := s.store.PolicyCompliance(r.Context(), p.Policy.ID, s.now())
	if err != nil {
		s.storeFailed(w, r, "compliance", err)
		return
	}
	v := policyView(p, counts)
	v.Policy = &p.Policy
	writeJSON(w, http.StatusOK, v)
}

// deletePolicy removes a policy with its results and history.
func (s *server) deletePolicy(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	rev, err := s.store.DeletePolicy(r.Context(), id, actor, s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("policy %q not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "delete policy", err)
		return
	}
	s.log.Info("policy deleted", "policy_id", id, "revision", rev, "actor", actor)
	s.changed(rev)
	writeJSON(w, http.StatusOK, apitypes.DeleteResult{Revision: rev, Deleted: id})
}
