package generate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
)

// TestChangeKindsMatchServer keeps the inventory dashboard's kind list
// equal to the change detector's (server/internal/changes.Kinds). That
// package is internal to the server, so its source is read instead.
func TestChangeKindsMatchServer(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../server/internal/changes/changes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var kinds []ast.Expr
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range g.Specs {
			vs, ok := s.(*ast.ValueSpec)
			if !ok {
				continue
			}
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				switch {
				case g.Tok == token.CONST:
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[name.Name], _ = strconv.Unquote(lit.Value)
					}
				case g.Tok == token.VAR && name.Name == "Kinds":
					if cl, ok := vs.Values[i].(*ast.CompositeLit); ok {
						kinds = cl.Elts
					}
				}
			}
		}
	}
	if len(kinds) == 0 {
		t.Fatal("var Kinds not found in server/internal/changes/changes.go")
	}
	var server []string
	for _, e := range kinds {
		id, ok := e.(*ast.Ident)
		if !ok || consts[id.Name] == "" {
			t.Fatalf("Kinds element %v is not a string constant of the file", e)
		}
		server = append(server, consts[id.Name])
	}
	if !slices.Equal(server, ChangeKinds) {
		t.Errorf("the dashboards' change kinds differ from the server's:\n got %q\nwant %q", ChangeKinds, server)
	}
}
