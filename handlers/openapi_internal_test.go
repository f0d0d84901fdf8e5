package handlers

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

func tableForDoc() []route {
	return (&Server{deps: Deps{Logger: slog.Default(), Metrics: prometheus.NewRegistry()}}).routes()
}

// TestAPIDocRefusesARouteWithoutDescriptionAndADescriptionWithoutRoute:
// the server does not start with a document that lies either way.
func TestAPIDocRefusesARouteWithoutDescriptionAndADescriptionWithoutRoute(t *testing.T) {
	table := tableForDoc()
	if _, err := buildAPIDoc(table); err != nil {
		t.Fatalf("the real table: %v", err)
	}
	extra := append(append([]route{}, table...), route{method: fiber.MethodDelete, path: "/api/v1/recoveries/:id", access: accessToken})
	if _, err := buildAPIDoc(extra); err == nil || !strings.Contains(err.Error(), "DELETE /api/v1/recoveries/:id") {
		t.Errorf("a route without description: %v", err)
	}
	var fewer []route
	for _, r := range table {
		if r.path != "/api/v1/account-recovery" {
			fewer = append(fewer, r)
		}
	}
	if _, err := buildAPIDoc(fewer); err == nil || !strings.Contains(err.Error(), "POST /api/v1/account-recovery") {
		t.Errorf("a description without route: %v", err)
	}
}

// TestOpenAPIErrorCodesExist: every error code the document names is one
// the server's source produces — a sentinel (apperr.New), a handler's
// *APIError, a Fiber status error, or a field code the validators build.
// A code renamed in the source and not in the document fails here.
func TestOpenAPIErrorCodesExist(t *testing.T) {
	doc, err := buildAPIDoc(tableForDoc())
	if err != nil {
		t.Fatal(err)
	}
	produced := producedCodes(t)
	for _, m := range statusErrors {
		produced[m[0]] = true
	}
	var raw struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc.json, &raw); err != nil {
		t.Fatal(err)
	}
	constCode := regexp.MustCompile(`"code":\s*\{\s*"const":\s*"([a-z_]+)"`)
	n := 0
	for path, methods := range raw.Paths {
		for method, op := range methods {
			for status, r := range op.Responses {
				code, _ := strconv.Atoi(status)
				for _, m := range constCode.FindAllStringSubmatch(string(r), -1) {
					n++
					if code < 400 {
						t.Errorf("%s %s: error code %s under success %s", method, path, m[1], status)
					}
					if !produced[m[1]] {
						t.Errorf("%s %s %s: code %q is produced nowhere in the source", method, path, status, m[1])
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d error codes in the document", n)
	}
}

// producedCodes collects the error codes the non-test source builds:
// apperr.New(kind, "code", …), Code: "code" in a composite literal, and the
// code argument of the validators' add/required helpers.
func producedCodes(t *testing.T) map[string]bool {
	t.Helper()
	codes := map[string]bool{}
	lit := func(e ast.Expr) {
		if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
			if s, err := strconv.Unquote(b.Value); err == nil {
				codes[s] = true
			}
		}
	}
	fset := token.NewFileSet()
	for _, root := range []string{"../internal", "."} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					var name string
					switch fn := n.Fun.(type) {
					case *ast.SelectorExpr:
						name = fn.Sel.Name
					case *ast.Ident:
						name = fn.Name
					}
					switch name {
					case "New", "add":
						if len(n.Args) >= 2 {
							lit(n.Args[1])
						}
					case "required":
						if len(n.Args) >= 3 {
							lit(n.Args[2])
						}
					}
				case *ast.KeyValueExpr:
					if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Code" {
						lit(n.Value)
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
	return codes
}
