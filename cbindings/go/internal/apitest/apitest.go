// Package apitest keeps the bad-input tests of the Go modules complete: each
// module's test has a table with one row per exported function and method,
// and Cover fails when the package exports one without a row (or a row
// names nothing). Test code only; it imports only the standard library
// (the main package's own test imports it).
package apitest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Exported lists the exported functions ("Name") and methods of exported
// types ("Type.Name") declared in the non-test Go files of dir, whatever
// their build constraints.
func Exported(t testing.TB, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !fd.Name.IsExported() {
				continue
			}
			key := fd.Name.Name
			if fd.Recv != nil {
				recv := receiverType(fd.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					continue
				}
				key = recv + "." + key
			}
			exported[key] = true
		}
	}
	return exported
}

// Cover fails t when an exported function or method of the package in dir
// has no row in rows, or a row names none. atLeast guards the parse itself:
// fewer exports than that means it went wrong.
func Cover[V any](t testing.TB, dir string, rows map[string]V, atLeast int) {
	t.Helper()
	exported := Exported(t, dir)
	if len(exported) < atLeast {
		t.Fatalf("found only %d exported functions in %s: the parse is wrong", len(exported), dir)
	}
	for name := range exported {
		if _, ok := rows[name]; !ok {
			t.Errorf("exported %s has no row: add one that calls it with nil receivers and bad values", name)
		}
	}
	for name := range rows {
		if !exported[name] {
			t.Errorf("a row names %s, which the package does not export", name)
		}
	}
}

// receiverType is the name of a method's receiver type: T, *T, T[P], *T[P].
func receiverType(x ast.Expr) string {
	for {
		switch v := x.(type) {
		case *ast.StarExpr:
			x = v.X
		case *ast.IndexExpr:
			x = v.X
		case *ast.IndexListExpr:
			x = v.X
		case *ast.Ident:
			return v.Name
		default:
			return ""
		}
	}
}

// Table checks that rows cover the package in the current directory (Cover)
// and runs each row as a subtest with env.
func Table[E any](t *testing.T, rows map[string]func(*testing.T, E), atLeast int, env E) {
	t.Helper()
	Cover(t, ".", rows, atLeast)
	for name, row := range rows {
		t.Run(name, func(t *testing.T) { row(t, env) })
	}
}
