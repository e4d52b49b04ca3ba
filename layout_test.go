package roster_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestLayout keeps the arrows of the package layout pointing inwards: the domain package
// imports the standard library only, the import pipeline knows nothing of HTTP or SQL, and
// adapters (stores, web) never import each other; only cmd/roster wires them together.
func TestLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps,Standard", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/roster-dev/roster"
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	pkgs := map[string]pkg{}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) < 8 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	adapters := []string{mod + "/internal/sqlite", mod + "/internal/postgres", mod + "/internal/web"}
	isAdapter := func(path string) bool {
		for _, a := range adapters {
			if path == a || strings.HasPrefix(path, a+"/") {
				return true
			}
		}
		return false
	}
	for path, p := range pkgs {
		for _, imp := range p.Imports {
			switch {
			case path == mod && strings.Contains(imp, "."):
				t.Errorf("the domain package imports %s: it must use the standard library only", imp)
			case isAdapter(path) && isAdapter(imp) && !strings.HasPrefix(imp, adapterOf(adapters, path)):
				t.Errorf("adapter %s imports adapter %s: only cmd/roster wires adapters together", path, imp)
			}
		}
		if strings.HasPrefix(path, mod+"/internal/importer") {
			// Direct imports only for the standard library: excelize itself pulls net/http in.
			for _, d := range p.Imports {
				if d == "net/http" || d == "database/sql" {
					t.Errorf("%s imports %s: the import pipeline knows nothing of HTTP or SQL", path, d)
				}
			}
			for _, d := range p.Deps {
				if isAdapter(d) {
					t.Errorf("%s depends on %s: the import pipeline knows no adapter", path, d)
				}
			}
		}
	}
}

func adapterOf(adapters []string, path string) string {
	for _, a := range adapters {
		if path == a || strings.HasPrefix(path, a+"/") {
			return a
		}
	}
	return path
}
