package layering_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// rule says that no package matching from may depend on a package
// matching any of deny. Patterns are relative to the module: "agent" is
// that package alone, "devices/..." the tree. A dependency is direct or
// indirect; with tests, the packages' tests count too (a device package's
// tests that needed the core would tie the device to it just the same).
type rule struct {
	says  string
	from  []string
	tests bool
	deny  []string
	// pending, when set, is why the rule does not hold yet: its row is
	// checked and reported, and skipped. Deleting the field enforces it.
	pending string
}

var rules = []rule{
	{
		says:  "device and codec packages import no core package (only the leaf utilities below), and nothing of the platform's or the journal's side",
		from:  []string{"devices/..."},
		tests: true,
		deny:  []string{"agent", "sync/...", "offline/..."},
	},
	{
		// What lets rule 1 allow them.
		says:  "the leaf utilities a device package may use depend on nothing else of the module",
		from:  []string{"agent/clock", "agent/mask", "agent/money", "agent/idno", "agent/pan"},
		tests: true,
		deny:  []string{"agent/...", "sync/...", "devices/...", "offline/..."},
	},
	{
		says: "the product binary links no sandbox",
		from: []string{"cmd/medterm"},
		deny: []string{"sync/sandbox/..."},
	},
	{
		says:  "the journal and the devices know nothing of the local API",
		from:  []string{"offline/...", "devices/..."},
		tests: true,
		deny:  []string{"agent/api"},
	},
	{
		says: "the core imports no wire, device or journal package",
		from: []string{"agent"},
		deny: []string{"sync/...", "devices/...", "offline/..."},
	},
}

// targets are the builds the rules are checked in: the host's, and the
// Windows build the hospitals run (no cgo), whose files differ by build
// tags (devices/pcsc's !cgo twin, the scanner's port code).
var targets = []struct{ goos, cgo string }{
	{"", ""},
	{"windows", "0"},
}

func TestLayering(t *testing.T) {
	for _, tg := range targets {
		name := "host"
		if tg.goos != "" {
			name = tg.goos
		}
		t.Run(name, func(t *testing.T) {
			g := list(t, tg.goos, tg.cgo)
			for _, r := range rules {
				t.Run(r.says, func(t *testing.T) { check(t, g, r) })
			}
		})
	}
}

func check(t *testing.T, g *graph, r rule) {
	for _, p := range append(append([]string(nil), r.from...), r.deny...) {
		if len(g.matching(p)) == 0 {
			t.Fatalf("pattern %q matches no package: the rule would hold for nothing", p)
		}
	}
	var broken []string
	for _, p := range r.from {
		for _, pkg := range g.matching(p) {
			roots := []string{pkg}
			if r.tests {
				roots = append(roots, g.testsOf(pkg)...)
			}
			for _, root := range roots {
				for _, d := range r.deny {
					if path := g.path(pkg, root, d); path != nil {
						broken = append(broken, strings.Join(path, " → "))
					}
				}
			}
		}
	}
	switch {
	case r.pending != "" && len(broken) > 0:
		t.Skipf("pending: %s; %d imports still break it, the first:\n\t%s", r.pending, len(broken), broken[0])
	case r.pending != "":
		t.Skipf("pending (%s), and now met: delete its pending note to enforce it", r.pending)
	}
	const shown = 12 // one wrong import breaks a rule for all its importers
	for i, b := range broken {
		if i == shown {
			t.Errorf("... and %d more", len(broken)-shown)
			break
		}
		t.Errorf("%s; but %s", r.says, b)
	}
}

// graph is the module's packages as `go list -deps -test` reports them,
// test variants included ("p [p.test]", "p_test [p.test]", "p.test").
type graph struct {
	module  string
	imports map[string][]string // id → ids it imports
	ids     []string
}

type listed struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// list runs the go command, the one running this test (go test puts its
// own bin directory first on PATH), for goos ("" the host's).
func list(t *testing.T, goos, cgo string) *graph {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command lists the packages: %v", err)
	}
	run := func(args ...string) []byte {
		cmd := exec.Command(goBin, args...)
		cmd.Env = os.Environ()
		if goos != "" {
			cmd.Env = append(cmd.Env, "GOOS="+goos)
		}
		if cgo != "" {
			cmd.Env = append(cmd.Env, "CGO_ENABLED="+cgo)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return out
	}
	g := &graph{module: strings.TrimSpace(string(run("list", "-m"))), imports: map[string][]string{}}
	dec := json.NewDecoder(bytes.NewReader(run("list", "-deps", "-test", "-json=ImportPath,Imports,Standard", g.module+"/...")))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Standard {
			continue
		}
		g.imports[p.ImportPath] = p.Imports
		g.ids = append(g.ids, p.ImportPath)
	}
	return g
}

// plain is a package id without its test variant's suffix.
func plain(id string) string {
	if i := strings.Index(id, " ["); i >= 0 {
		return id[:i]
	}
	return id
}

// matches reports whether id (of a package in the module) is named by
// pattern.
func (g *graph) matches(id, pattern string) bool {
	p := plain(id)
	if strings.HasSuffix(pattern, "/...") {
		base := g.module + "/" + strings.TrimSuffix(pattern, "/...")
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == g.module+"/"+pattern
}

// matching lists the module's packages named by pattern, without test
// variants.
func (g *graph) matching(pattern string) []string {
	var out []string
	for _, id := range g.ids {
		if id == plain(id) && !strings.HasSuffix(id, ".test") && g.matches(id, pattern) {
			out = append(out, id)
		}
	}
	return out
}

// testsOf lists the test variants of pkg: its in-package tests and its
// external test package.
func (g *graph) testsOf(pkg string) []string {
	var out []string
	for _, id := range []string{pkg + " [" + pkg + ".test]", pkg + "_test [" + pkg + ".test]"} {
		if _, ok := g.imports[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

// path is the shortest import chain from root (pkg or one of its tests)
// to a package named by pattern other than pkg itself, for the failure
// message, or nil when there is none.
func (g *graph) path(pkg, root, pattern string) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if strings.TrimSuffix(plain(id), "_test") != pkg && g.matches(id, pattern) {
			var chain []string
			for x := id; x != ""; x = prev[x] {
				chain = append([]string{g.short(x)}, chain...)
			}
			return chain
		}
		for _, next := range g.imports[id] {
			if _, seen := prev[next]; !seen {
				prev[next] = id
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// short names a package in a failure message: relative to the module, and
// marked when it is a test.
func (g *graph) short(id string) string {
	s := strings.TrimPrefix(plain(id), g.module+"/")
	if id != plain(id) {
		s += " (test)"
	}
	return s
}
