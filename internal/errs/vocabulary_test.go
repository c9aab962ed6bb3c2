package errs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOneVocabulary: every error code is declared here and nowhere else:
// no other package declares a Code, and none writes a code's string.
func TestOneVocabulary(t *testing.T) {
	codes := map[string]bool{}
	fset := token.NewFileSet()
	own, err := parser.ParseFile(fset, "errs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range own.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Code" {
					for _, v := range vs.Values {
						if lit, ok := v.(*ast.BasicLit); ok {
							c, _ := strconv.Unquote(lit.Value)
							codes[c] = true
						}
					}
				}
			}
		}
	}
	if !codes["INTERNAL"] || !codes["BAD_USER_INPUT"] {
		t.Fatalf("read the codes %v from errs.go", codes)
	}
	root := filepath.Join("..", "..")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "ent", filepath.Join("graph", "generated"), filepath.Join("internal", "errs"), filepath.Join("internal", "devtools"), "node_modules", "bin", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && codes[s] {
					t.Errorf("%s: the code %s is written out; use the constant of package errs", fset.Position(n.Pos()), s)
				}
			case *ast.ValueSpec:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Code" && isErrs(sel.X) {
					t.Errorf("%s: an error code declared outside internal/errs", fset.Position(n.Pos()))
				}
			case *ast.CallExpr: // errs.Code("…")
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Code" && isErrs(sel.X) {
					t.Errorf("%s: an error code made outside internal/errs", fset.Position(n.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isErrs(x ast.Expr) bool {
	id, ok := x.(*ast.Ident)
	return ok && id.Name == "errs"
}
