package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/changes"
)

// openAPIFile is docs/openapi.yaml, found from this package's directory.
var openAPIFile = filepath.Join("..", "..", "..", "docs", "openapi.yaml")

// httpMethods are the keys of an OpenAPI path item that name operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("the API must be documented in %s: %v", openAPIFile, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", openAPIFile, err)
	}
	return doc
}

// openAPIPath turns a ServeMux pattern path into an OpenAPI path:
// "{id}" stays, "{rest...}" loses its dots, "{$}" disappears.
func openAPIPath(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	return regexp.MustCompile(`\{(\w+)\.\.\.\}`).ReplaceAllString(p, "{$1}")
}

// documentedOps lists "METHOD /path" for every operation under paths that
// starts with prefix.
func documentedOps(doc map[string]any, prefix string) []string {
	paths, _ := doc["paths"].(map[string]any)
	var ops []string
	for path, item := range paths {
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		m, _ := item.(map[string]any)
		for key := range m {
			if slices.Contains(httpMethods, key) {
				ops = append(ops, strings.ToUpper(key)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// routeProblems compares registered routes with the document's operations
// under the API prefix, both ways.
func routeProblems(routes []api.Route, doc map[string]any) []string {
	registered := map[string]bool{}
	var problems []string
	for _, r := range routes {
		op := r.Method + " " + openAPIPath(r.Pattern)
		registered[op] = true
	}
	documented := documentedOps(doc, strings.TrimSuffix(api.Prefix, "/"))
	for op := range registered {
		if !slices.Contains(documented, op) {
			problems = append(problems, "registered but not documented: "+op)
		}
	}
	for _, op := range documented {
		if !registered[op] {
			problems = append(problems, "documented but not registered: "+op)
		}
	}
	slices.Sort(problems)
	return problems
}

func TestEveryRouteIsDocumented(t *testing.T) {
	doc := loadOpenAPI(t)
	if v := doc["openapi"]; v != "3.0.3" {
		t.Errorf("openapi version %v, want 3.0.3", v)
	}
	if len(api.Routes()) == 0 {
		t.Fatal("api.Routes() is empty")
	}
	for _, p := range routeProblems(api.Routes(), doc) {
		t.Error(p)
	}
}

// TestRouteCheckFails proves the comparison above notices a gap in either
// direction, so a passing run means something.
func TestRouteCheckFails(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	t.Run("route missing from the document", func(t *testing.T) {
		trimmed := map[string]any{}
		for k, v := range paths {
			if k != "/api/v1/hosts/{id}/inventory" {
				trimmed[k] = v
			}
		}
		got := routeProblems(api.Routes(), map[string]any{"paths": trimmed})
		want := []string{"registered but not documented: GET /api/v1/hosts/{id}/inventory"}
		if !slices.Equal(got, want) {
			t.Fatalf("problems %q, want %q", got, want)
		}
	})
	t.Run("documented route not registered", func(t *testing.T) {
		routes := slices.DeleteFunc(api.Routes(), func(r api.Route) bool { return r.Pattern == "/api/v1/software" })
		got := routeProblems(routes, doc)
		want := []string{"documented but not registered: GET /api/v1/software"}
		if !slices.Equal(got, want) {
			t.Fatalf("problems %q, want %q", got, want)
		}
	})
}

func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	doc := loadOpenAPI(t)
	t.Run("every $ref resolves", func(t *testing.T) {
		walk(doc, func(n map[string]any) {
			if ref, ok := n["$ref"].(string); ok {
				if _, err := resolve(doc, ref); err != nil {
					t.Error(err)
				}
			}
		})
	})
	t.Run("operation ids are unique", func(t *testing.T) {
		seen := map[string]bool{}
		forEachOp(doc, func(op string, o map[string]any) {
			id, _ := o["operationId"].(string)
			if id == "" || seen[id] {
				t.Errorf("%s: operationId %q missing or repeated", op, id)
			}
			seen[id] = true
		})
	})
	t.Run("path parameters are declared", func(t *testing.T) {
		forEachOp(doc, func(op string, o map[string]any) {
			declared := map[string]bool{}
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				pm, err := deref(doc, p)
				if err != nil {
					t.Errorf("%s: %v", op, err)
					continue
				}
				if pm["in"] == "path" {
					declared[fmt.Sprint(pm["name"])] = true
				}
			}
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(op, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter %q not declared", op, m[1])
				}
			}
		})
	})
	t.Run("admin operations declare auth and outage answers", func(t *testing.T) {
		forEachOp(doc, func(op string, o map[string]any) {
			if !strings.Contains(op, " /api/") {
				return
			}
			if sec, ok := o["security"]; ok {
				t.Errorf("%s overrides the admin token requirement with %v", op, sec)
			}
			responses, _ := o["responses"].(map[string]any)
			_, ok := responses["200"]
			if _, created := responses["201"]; !ok && !created {
				t.Errorf("%s: no 200 or 201 response", op)
			}
			for _, code := range []string{"401", "503"} {
				if _, ok := responses[code]; !ok {
					t.Errorf("%s: no %s response", op, code)
				}
			}
		})
	})
}

func forEachOp(doc map[string]any, fn func(op string, o map[string]any)) {
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		m, _ := item.(map[string]any)
		for key, v := range m {
			if o, ok := v.(map[string]any); ok && slices.Contains(httpMethods, key) {
				fn(strings.ToUpper(key)+" "+path, o)
			}
		}
	}
}

func walk(v any, fn func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		fn(t)
		for _, c := range t {
			walk(c, fn)
		}
	case []any:
		for _, c := range t {
			walk(c, fn)
		}
	}
}

// resolve follows a local JSON pointer reference ("#/components/...").
func resolve(doc map[string]any, ref string) (map[string]any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q is not an object", ref)
	}
	return m, nil
}

func deref(doc map[string]any, v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%v is not an object", v)
	}
	if ref, ok := m["$ref"].(string); ok {
		return resolve(doc, ref)
	}
	return m, nil
}

// TestChangeKindsDocumented keeps the document's list of change kinds equal
// to the kinds the server records.
func TestChangeKindsDocumented(t *testing.T) {
	doc := loadOpenAPI(t)
	kind, err := resolve(doc, "#/components/schemas/ChangeKind")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, v := range kind["enum"].([]any) {
		documented = append(documented, fmt.Sprint(v))
	}
	if !slices.Equal(documented, changes.Kinds) {
		t.Errorf("documented change kinds %q, want %q", documented, changes.Kinds)
	}
}
