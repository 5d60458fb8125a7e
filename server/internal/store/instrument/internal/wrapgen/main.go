// Command wrapgen writes the instrument package's wrap_gen.go: one method
// per method of store.Store that times the call, and one shim per
// optional interface declared in the instrument package (marked with an
// //instrument:optional line) with the switch that forwards exactly the
// optional interfaces a wrapped store has.
//
// It reads the sources with go/parser only: store.Store is an interface
// of interfaces declared in package store, so no type checker is needed.
// Run it with go generate in the instrument directory; a test in this
// package fails when wrap_gen.go is stale.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Where the packages are, relative to the instrument directory, and the
// file generated there.
const (
	defaultStoreDir = ".."
	defaultOut      = "wrap_gen.go"
	storeImport     = "github.com/steward-project/steward/server/internal/store"
	optionalMarker  = "//instrument:optional"
)

func main() {
	storeDir := flag.String("store", defaultStoreDir, "directory of package store")
	pkgDir := flag.String("pkg", ".", "directory of package instrument")
	out := flag.String("out", defaultOut, "file to write, in the instrument directory")
	flag.Parse()
	src, err := generate(*storeDir, *pkgDir, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wrapgen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(*pkgDir, *out), src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "wrapgen:", err)
		os.Exit(1)
	}
}

// method is one interface method as the generated code spells it.
type method struct {
	name    string
	params  []param
	results []string // type of each result
	// timed is true when the last result is an error: the method is a
	// database operation. The others (PoolStats) read memory and are
	// forwarded as they are.
	timed bool
	ctx   string // name of the context.Context parameter, if any
}

type param struct {
	name     string
	typ      string
	variadic bool
}

// optional is one optional interface declared in the instrument package.
type optional struct {
	name    string
	methods []method
}

// pkg is the parsed declarations of one package directory.
type pkg struct {
	interfaces map[string]*ast.InterfaceType
	types      map[string]bool                // every type name declared
	imports    map[*ast.InterfaceType]imports // the imports of the file that declares each interface
	optional   []string                       // marked interfaces, in source order
}

// imports maps a file's package names to their import paths.
type imports map[string]string

// generate returns the formatted source of the wrapper file.
func generate(storeDir, pkgDir, out string) ([]byte, error) {
	st, err := parseDir(storeDir, "")
	if err != nil {
		return nil, err
	}
	ins, err := parseDir(pkgDir, out)
	if err != nil {
		return nil, err
	}
	used := map[string]string{"context": "context", "time": "time", "store": storeImport}
	qualify := func(name string) string {
		if st.types[name] {
			return "store." + name
		}
		return name
	}
	methods, err := st.methods("Store", qualify, used)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, m := range methods {
		names[m.name] = true
	}
	var opts []optional
	for _, name := range ins.optional {
		ms, err := ins.methods(name, func(s string) string { return s }, used)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if names[m.name] {
				// Two embedded fields with one method name would hide it.
				return nil, fmt.Errorf("optional interface %s: method %s is already a method of the wrapper", name, m.name)
			}
			names[m.name] = true
		}
		opts = append(opts, optional{name: name, methods: ms})
	}
	if len(opts) > 6 {
		return nil, fmt.Errorf("%d optional interfaces make %d combinations: too many to spell out", len(opts), 1<<len(opts))
	}
	var b bytes.Buffer
	writeFile(&b, methods, opts, used)
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated code: %w\n%s", err, b.Bytes())
	}
	return src, nil
}

// parseDir parses the non-test Go files of dir, leaving out skip.
func parseDir(dir, skip string) (*pkg, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	p := &pkg{interfaces: map[string]*ast.InterfaceType{}, types: map[string]bool{}, imports: map[*ast.InterfaceType]imports{}}
	fset := token.NewFileSet()
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasSuffix(base, "_test.go") || base == skip {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		imps := fileImports(f)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				p.types[ts.Name.Name] = true
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok {
					continue
				}
				p.interfaces[ts.Name.Name] = it
				p.imports[it] = imps
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				if marked(doc) {
					p.optional = append(p.optional, ts.Name.Name)
				}
			}
		}
	}
	return p, nil
}

func marked(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if strings.TrimSpace(c.Text) == optionalMarker {
			return true
		}
	}
	return false
}

func fileImports(f *ast.File) imports {
	imps := imports{}
	for _, spec := range f.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		name := path.Base(p)
		if isMajorVersion(name) {
			name = path.Base(path.Dir(p))
		}
		if spec.Name != nil {
			name = spec.Name.Name
		}
		imps[name] = p
	}
	return imps
}

// isMajorVersion reports whether s is a module major version suffix (v2).
func isMajorVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	_, err := strconv.Atoi(s[1:])
	return err == nil
}

// methods lists the methods of the named interface with the interfaces it
// embeds expanded, in declaration order; it records the imports the
// types need in used.
func (p *pkg) methods(name string, qualify func(string) string, used map[string]string) ([]method, error) {
	it, ok := p.interfaces[name]
	if !ok {
		return nil, fmt.Errorf("interface %s not found", name)
	}
	var out []method
	for _, f := range it.Methods.List {
		if len(f.Names) == 0 {
			id, ok := f.Type.(*ast.Ident)
			if !ok {
				return nil, fmt.Errorf("%s embeds %T: only interfaces of its own package are supported", name, f.Type)
			}
			ms, err := p.methods(id.Name, qualify, used)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, ms...)
			continue
		}
		r := &renderer{qualify: qualify, imports: p.imports[it], used: used}
		m, err := r.method(f.Names[0].Name, f.Type.(*ast.FuncType))
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, f.Names[0].Name, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// renderer spells types as the instrument package must write them.
type renderer struct {
	qualify func(string) string
	imports imports
	used    map[string]string
}

func (r *renderer) method(name string, ft *ast.FuncType) (method, error) {
	m := method{name: name}
	n := 0
	if ft.Params != nil {
		for _, f := range ft.Params.List {
			typ, variadic := f.Type, false
			if e, ok := typ.(*ast.Ellipsis); ok {
				typ, variadic = e.Elt, true
			}
			s, err := r.typ(typ)
			if err != nil {
				return m, err
			}
			names := f.Names
			if len(names) == 0 {
				names = []*ast.Ident{{Name: "_"}}
			}
			for _, id := range names {
				pn := id.Name
				if pn == "_" {
					pn = fmt.Sprintf("a%d", n)
				}
				// The generated body uses these names itself.
				if pn == "err" || pn == "w" || pn == "o" {
					return m, fmt.Errorf("parameter %q: rename it, the generated code uses the name", pn)
				}
				if s == "context.Context" && m.ctx == "" {
					m.ctx = pn
				}
				m.params = append(m.params, param{name: pn, typ: s, variadic: variadic})
				n++
			}
		}
	}
	if ft.Results != nil {
		for _, f := range ft.Results.List {
			s, err := r.typ(f.Type)
			if err != nil {
				return m, err
			}
			for range max(1, len(f.Names)) {
				m.results = append(m.results, s)
			}
		}
	}
	m.timed = len(m.results) > 0 && m.results[len(m.results)-1] == "error"
	return m, nil
}

// typ spells a type expression.
func (r *renderer) typ(e ast.Expr) (string, error) {
	switch e := e.(type) {
	case *ast.Ident:
		return r.qualify(e.Name), nil
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		if !ok {
			return "", fmt.Errorf("unsupported selector %T", e.X)
		}
		p, ok := r.imports[x.Name]
		if !ok {
			return "", fmt.Errorf("package %s is not imported", x.Name)
		}
		if prev, ok := r.used[x.Name]; ok && prev != p {
			return "", fmt.Errorf("package name %s means both %s and %s", x.Name, prev, p)
		}
		r.used[x.Name] = p
		return x.Name + "." + e.Sel.Name, nil
	case *ast.StarExpr:
		s, err := r.typ(e.X)
		return "*" + s, err
	case *ast.ArrayType:
		s, err := r.typ(e.Elt)
		if err != nil || e.Len == nil {
			return "[]" + s, err
		}
		lit, ok := e.Len.(*ast.BasicLit)
		if !ok {
			return "", errors.New("array length must be a literal")
		}
		return "[" + lit.Value + "]" + s, nil
	case *ast.MapType:
		k, err := r.typ(e.Key)
		if err != nil {
			return "", err
		}
		v, err := r.typ(e.Value)
		return "map[" + k + "]" + v, err
	case *ast.ChanType:
		s, err := r.typ(e.Value)
		switch e.Dir {
		case ast.SEND:
			return "chan<- " + s, err
		case ast.RECV:
			return "<-chan " + s, err
		}
		return "chan " + s, err
	case *ast.InterfaceType:
		if len(e.Methods.List) > 0 {
			return "", errors.New("only the empty interface may be spelled inline")
		}
		return "any", nil
	case *ast.FuncType:
		m, err := r.method("", e)
		if err != nil {
			return "", err
		}
		return "func(" + paramList(m.params, false) + ")" + resultList(m.results, false), nil
	}
	return "", fmt.Errorf("unsupported type expression %T", e)
}

// paramList spells parameters; with types false, the arguments of a call.
func paramList(ps []param, call bool) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		switch {
		case call && p.variadic:
			parts[i] = p.name + "..."
		case call:
			parts[i] = p.name
		case p.variadic:
			parts[i] = p.name + " ..." + p.typ
		default:
			parts[i] = p.name + " " + p.typ
		}
	}
	return strings.Join(parts, ", ")
}

// resultList spells results; named, the error is err and the others
// blank, for the deferred observation to read.
func resultList(rs []string, named bool) string {
	if len(rs) == 0 {
		return ""
	}
	if !named {
		if len(rs) == 1 {
			return " " + rs[0]
		}
		return " (" + strings.Join(rs, ", ") + ")"
	}
	parts := make([]string, len(rs))
	for i, t := range rs {
		parts[i] = "_ " + t
	}
	parts[len(parts)-1] = "err error"
	return " (" + strings.Join(parts, ", ") + ")"
}

func writeFile(b *bytes.Buffer, methods []method, opts []optional, used map[string]string) {
	b.WriteString("// Code generated by wrapgen (go generate); DO NOT EDIT.\n\npackage instrument\n\nimport (\n")
	var std, other []string
	for name, p := range used {
		spec := strconv.Quote(p)
		if path.Base(p) != name && !(isMajorVersion(path.Base(p)) && path.Base(path.Dir(p)) == name) {
			spec = name + " " + spec
		}
		if strings.Contains(strings.Split(p, "/")[0], ".") {
			other = append(other, spec)
		} else {
			std = append(std, spec)
		}
	}
	slices.Sort(std)
	slices.Sort(other)
	for _, s := range std {
		b.WriteString("\t" + s + "\n")
	}
	b.WriteString("\n")
	for _, s := range other {
		b.WriteString("\t" + s + "\n")
	}
	b.WriteString(")\n\n")
	for _, m := range methods {
		writeMethod(b, "w *wrapper", "w", "w.inner", "store.Store", m)
	}
	for _, o := range opts {
		fmt.Fprintf(b, "// %sShim times the methods of %s for a store that has them.\n", o.name, o.name)
		fmt.Fprintf(b, "type %sShim struct {\n\tw *wrapper\n\tinner %s\n}\n\n", o.name, o.name)
		for _, m := range o.methods {
			writeMethod(b, "o "+o.name+"Shim", "o.w", "o.inner", o.name, m)
		}
	}
	writeCombine(b, opts)
}

func writeMethod(b *bytes.Buffer, recv, wrapper, inner, iface string, m method) {
	call := fmt.Sprintf("%s.%s(%s)", inner, m.name, paramList(m.params, true))
	if !m.timed {
		fmt.Fprintf(b, "// %s forwards %s.%s untimed: it returns no error, so it is no database operation.\n", m.name, iface, m.name)
		fmt.Fprintf(b, "func (%s) %s(%s)%s {\n", recv, m.name, paramList(m.params, false), resultList(m.results, false))
		if len(m.results) > 0 {
			b.WriteString("\treturn ")
		} else {
			b.WriteString("\t")
		}
		b.WriteString(call + "\n}\n\n")
		return
	}
	ctx := m.ctx
	if ctx == "" {
		ctx = "context.Background()" // no caller to have canceled it
	}
	fmt.Fprintf(b, "// %s times %s.%s.\n", m.name, iface, m.name)
	fmt.Fprintf(b, "func (%s) %s(%s)%s {\n", recv, m.name, paramList(m.params, false), resultList(m.results, true))
	fmt.Fprintf(b, "\tdefer %s.observe(%s, %q, time.Now(), &err)\n", wrapper, ctx, m.name)
	fmt.Fprintf(b, "\treturn %s\n}\n\n", call)
}

// writeCombine writes withOptional: for each subset of the optional
// interfaces, a struct that embeds the wrapper and the shims of that
// subset, so that its method set is the wrapper's plus exactly those.
func writeCombine(b *bytes.Buffer, opts []optional) {
	b.WriteString("// withOptional returns w with the optional interfaces of its store, and\n")
	b.WriteString("// only those, each timed by its shim.\n")
	b.WriteString("func withOptional(w *wrapper) store.Store {\n")
	if len(opts) == 0 {
		b.WriteString("\treturn w\n}\n")
		return
	}
	b.WriteString("\tvar has uint\n")
	for i, o := range opts {
		fmt.Fprintf(b, "\to%d, ok := w.inner.(%s)\n\tif ok {\n\t\thas |= 1 << %d\n\t}\n", i, o.name, i)
	}
	b.WriteString("\tswitch has {\n")
	for set := 1; set < 1<<len(opts); set++ {
		var fields, values []string
		for i, o := range opts {
			if set&(1<<i) != 0 {
				fields = append(fields, o.name)
				values = append(values, fmt.Sprintf("%sShim{w, o%d}", o.name, i))
			}
		}
		fmt.Fprintf(b, "\tcase %d:\n\t\treturn struct {\n\t\t*wrapper\n\t\t%s\n\t}{w, %s}\n",
			set, strings.Join(fields, "\n\t\t"), strings.Join(values, ", "))
	}
	b.WriteString("\t}\n\treturn w\n}\n")
}
