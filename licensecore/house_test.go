package licensecore_test

// House rules: tests that guard the package structure of DESIGN.md §1 and §5.
//
//	TestHouseRule1Locks          no function in licensecore returns holding a lock
//	TestHouseRule2ManagerMethods Manager has at most houseMaxManagerMethods methods
//	TestHouseRule3Imports        licensecore has no Fyne; authority and wire stay off licensecore
//	TestHouseRule4DocFiles       every package under licensecore/, screens/, app/ has a doc.go
//	TestHouseRule5Sentinels      every errors.New sentinel of licensecore's packages is in errors.go
//
// Each rule is a function over source text, files or a package graph, and
// the TestHouseCheck… tests show it on small synthetic inputs, so a failing
// TestHouseRule… is about the code, not about the checker:
//
//	go test -run 'TestHouseCheck' ./licensecore/   the checkers
//	go test -run 'TestHouseRule' ./licensecore/    the checklist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	houseModule            = "licensedesk"
	houseCore              = houseModule + "/licensecore"
	houseAuthority         = houseCore + "/authority"
	houseWire              = houseCore + "/wire"
	houseMaxManagerMethods = 30
)

// ---- the module ----

// houseModuleRoot is the directory of the go.mod that `go env GOMOD` names.
// skipWithoutGo skips where the go command cannot run: under wine (the
// Windows lane) it is a Linux program a Windows test binary cannot start.
// The house rules read the source, which the Linux run checks.
func skipWithoutGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil && runtime.GOOS == "windows" {
		t.Skip("the house rules need the go command, which this Windows test binary cannot run")
	}
}

func houseModuleRoot(t *testing.T) string {
	t.Helper()
	skipWithoutGo(t)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD: the tests do not run inside a module")
	}
	return filepath.Dir(gomod)
}

// housePackageDirs lists the package directories at and under root/top
// (slash-separated, relative to root): directories holding .go files,
// without testdata and the directories the go command ignores.
func housePackageDirs(root, top string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != filepath.Join(root, top) && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		goFiles, err := filepath.Glob(filepath.Join(path, "*.go"))
		if err != nil {
			return err
		}
		if len(goFiles) > 0 {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	return dirs, err
}

// houseParseDir parses the non-test .go files of root/dir, sorted by name;
// the files are named by their path relative to root.
func houseParseDir(fset *token.FileSet, root, dir string, mode parser.Mode) ([]*ast.File, error) {
	paths, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, dir+"/"+filepath.Base(p), src, mode)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func housePos(fset *token.FileSet, p token.Pos) string {
	pos := fset.Position(p)
	return fmt.Sprintf("%s:%d", pos.Filename, pos.Line)
}

// ---- rule 1: no function returns holding a lock ----

// houseLockProblem is one place where a function may return holding a
// lock, or a comment that says one does.
type houseLockProblem struct {
	Pos  string // file:line
	Func string // the enclosing function, e.g. "(*Manager).beginOffline"
	Msg  string
}

func (p houseLockProblem) String() string {
	return fmt.Sprintf("%s: %s: %s", p.Pos, p.Func, p.Msg)
}

// Phrases that document a function handing a held lock to its caller.
var houseLockPhrases = []string{"caller unlocks", "returns holding"}

// houseUnlockFor pairs each way of taking a lock with its release.
var houseUnlockFor = map[string]string{"Lock": "Unlock", "RLock": "RUnlock", "TryLock": "Unlock", "TryRLock": "RUnlock"}

// houseCheckLocks checks one Go source file: every X.Lock() / X.RLock() in
// every function and function literal must be followed either directly by
// `defer X.Unlock()` / `defer X.RUnlock()`, or later in the same block by
// X.Unlock() / X.RUnlock() with no return (nor break, continue or goto
// that can leave the block) in between, at any depth except inside
// function literals, whose returns leave only themselves. Anything else is
// a problem, and so are:
//   - a Lock call that is not a statement of its own (`defer X.Lock()`,
//     TryLock in a condition), which the rule cannot follow;
//   - an Unlock of a lock the same function never takes: the lock crossed
//     a function boundary (taken by a callee or by the caller);
//   - a comment saying "caller unlocks" or "returns holding".
//
// The check is syntactic: X is compared as written (m.mu, s.audit), and a
// body is one function, closures being functions of their own.
func houseCheckLocks(filename string, src []byte) ([]houseLockProblem, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	c := &houseLockChecker{fset: fset}
	c.checkComments(f)
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Body == nil {
				continue
			}
			name := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) == 1 {
				name = "(" + types.ExprString(d.Recv.List[0].Type) + ")." + name
			}
			c.checkFunc(name, d.Body)
		case *ast.GenDecl: // var f = func() { … }
			ast.Inspect(d, func(n ast.Node) bool {
				if lit, ok := n.(*ast.FuncLit); ok {
					c.checkFunc(fmt.Sprintf("func literal (line %d)", fset.Position(lit.Pos()).Line), lit.Body)
					return false
				}
				return true
			})
		}
	}
	sort.SliceStable(c.probs, func(i, j int) bool { return c.probs[i].at < c.probs[j].at })
	out := make([]houseLockProblem, len(c.probs))
	for i, p := range c.probs {
		out[i] = p.houseLockProblem
	}
	return out, nil
}

type houseLockChecker struct {
	fset  *token.FileSet
	probs []struct {
		houseLockProblem
		at token.Pos
	}
}

func (c *houseLockChecker) report(at token.Pos, fn, format string, args ...any) {
	c.probs = append(c.probs, struct {
		houseLockProblem
		at token.Pos
	}{houseLockProblem{housePos(c.fset, at), fn, fmt.Sprintf(format, args...)}, at})
}

func (c *houseLockChecker) line(n ast.Node) int { return c.fset.Position(n.Pos()).Line }

// checkComments flags the phrases, also when a line break splits them.
func (c *houseLockChecker) checkComments(f *ast.File) {
	for _, cg := range f.Comments {
		var text strings.Builder
		type start struct {
			off int
			pos token.Pos
		}
		var lines []start
		for _, cm := range cg.List {
			body := cm.Text
			if strings.HasPrefix(body, "//") {
				body = body[2:]
			} else {
				body = strings.TrimSuffix(strings.TrimPrefix(body, "/*"), "*/")
			}
			pos := cm.Pos()
			for i, l := range strings.Split(body, "\n") {
				if i > 0 { // the line of a /* */ comment's continuation
					pos = c.fset.File(cm.Pos()).LineStart(c.fset.Position(cm.Pos()).Line + i)
				}
				lines = append(lines, start{text.Len(), pos})
				text.WriteString(strings.Join(strings.Fields(strings.ToLower(l)), " "))
				text.WriteByte(' ')
			}
		}
		s := text.String()
		for _, phrase := range houseLockPhrases {
			for from := 0; ; {
				i := strings.Index(s[from:], phrase)
				if i < 0 {
					break
				}
				at := from + i
				from = at + len(phrase)
				k := sort.Search(len(lines), func(k int) bool { return lines[k].off > at }) - 1
				c.report(lines[k].pos, "comment", "says %q: no function may return holding a lock for its caller to release", phrase)
			}
		}
	}
}

// houseMutexCall recognizes recv.Lock(), recv.RUnlock() and the like.
func houseMutexCall(call *ast.CallExpr) (recv, method string, ok bool) {
	sel, isSel := call.Fun.(*ast.SelectorExpr)
	if !isSel || len(call.Args) != 0 {
		return "", "", false
	}
	switch sel.Sel.Name {
	case "Lock", "RLock", "TryLock", "TryRLock", "Unlock", "RUnlock":
		return types.ExprString(sel.X), sel.Sel.Name, true
	}
	return "", "", false
}

// houseIsCall reports whether call is recv.method().
func houseIsCall(call *ast.CallExpr, recv, method string) bool {
	r, m, ok := houseMutexCall(call)
	return ok && r == recv && m == method
}

func houseStmtCall(st ast.Stmt) *ast.CallExpr {
	if es, ok := st.(*ast.ExprStmt); ok {
		if call, ok := es.X.(*ast.CallExpr); ok {
			return call
		}
	}
	return nil
}

// checkFunc checks one function body; function literals in it are checked
// as functions of their own.
func (c *houseLockChecker) checkFunc(name string, body *ast.BlockStmt) {
	handled := map[*ast.CallExpr]bool{}
	locked := map[string]bool{} // recv + " " + the release that pairs with the lock
	var unlocks []*ast.CallExpr
	var lits []*ast.FuncLit
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			lits = append(lits, n)
			return false
		case *ast.BlockStmt: // visited before its statements: their calls are marked handled first
			c.checkList(name, n.List, handled)
		case *ast.CaseClause:
			c.checkList(name, n.Body, handled)
		case *ast.CommClause:
			c.checkList(name, n.Body, handled)
		case *ast.CallExpr:
			recv, m, ok := houseMutexCall(n)
			if !ok {
				break
			}
			if m == "Unlock" || m == "RUnlock" {
				unlocks = append(unlocks, n)
				break
			}
			locked[recv+" "+houseUnlockFor[m]] = true
			if handled[n] {
				break
			}
			if m == "TryLock" || m == "TryRLock" {
				c.report(n.Pos(), name, "%s.%s() cannot be followed by this rule; take the lock with %s.%s() and release it with defer or later in the same block", recv, m, recv, strings.TrimPrefix(m, "Try"))
			} else {
				c.report(n.Pos(), name, "%s.%s() is not a statement of its own in a block (as in `defer %s.%s()` or `go %s.%s()`), so the rule cannot see it released", recv, m, recv, m, recv, m)
			}
		}
		return true
	})
	for _, u := range unlocks {
		recv, m, _ := houseMutexCall(u)
		if !locked[recv+" "+m] {
			lock := "Lock"
			if m == "RUnlock" {
				lock = "RLock"
			}
			c.report(u.Pos(), name, "%s.%s() releases a lock this function never takes with %s.%s(): the lock crosses a function boundary (a callee returned holding it, or the caller must release it)", recv, m, recv, lock)
		}
	}
	for _, lit := range lits {
		c.checkFunc(fmt.Sprintf("func literal (line %d) in %s", c.line(lit), name), lit.Body)
	}
}

// checkList checks the Lock and RLock statements of one statement list.
func (c *houseLockChecker) checkList(name string, list []ast.Stmt, handled map[*ast.CallExpr]bool) {
	for i, st := range list {
		call := houseStmtCall(st)
		if call == nil {
			continue
		}
		recv, m, ok := houseMutexCall(call)
		if !ok || (m != "Lock" && m != "RLock") {
			continue
		}
		handled[call] = true
		un := houseUnlockFor[m]
		if i+1 < len(list) {
			if d, ok := list[i+1].(*ast.DeferStmt); ok && houseIsCall(d.Call, recv, un) {
				continue
			}
		}
		j := slices.IndexFunc(list[i+1:], func(s ast.Stmt) bool {
			u := houseStmtCall(s)
			return u != nil && houseIsCall(u, recv, un)
		})
		if j < 0 {
			hint := ""
			for _, s := range list[i+1:] {
				if d, ok := s.(*ast.DeferStmt); ok && houseIsCall(d.Call, recv, un) {
					hint = fmt.Sprintf(" (the `defer %s.%s()` at line %d must come right after the %s)", recv, un, c.line(d), m)
					break
				}
			}
			c.report(call.Pos(), name, "%s.%s() is followed neither by `defer %s.%s()` nor by `%s.%s()` later in the same block, so the function can return holding the lock%s", recv, m, recv, un, recv, un, hint)
			continue
		}
		j += i + 1
		if exits := c.exits(list[i+1 : j]); len(exits) > 0 {
			c.report(call.Pos(), name, "%s.%s() is released by %s.%s() at line %d, but %s before it leave(s) with the lock held", recv, m, recv, un, c.line(list[j]), strings.Join(exits, ", "))
		}
	}
}

// exits describes the statements in stmts that can leave them other than
// by falling through: return anywhere (except inside a function literal),
// goto, labeled break or continue, and a plain break or continue that no
// enclosed loop, switch or select catches.
func (c *houseLockChecker) exits(stmts []ast.Stmt) []string {
	var out []string
	for _, st := range stmts {
		var stack []ast.Node
		ast.Inspect(st, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			loops, breakables := 0, 0
			for _, s := range stack {
				switch s.(type) {
				case *ast.ForStmt, *ast.RangeStmt:
					loops++
					breakables++
				case *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
					breakables++
				}
			}
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt:
				out = append(out, fmt.Sprintf("the return at line %d", c.line(n)))
			case *ast.BranchStmt:
				what := n.Tok.String()
				if n.Label != nil {
					what += " " + n.Label.Name
				}
				switch {
				case n.Tok == token.GOTO,
					n.Tok == token.BREAK && (n.Label != nil || breakables == 0),
					n.Tok == token.CONTINUE && (n.Label != nil || loops == 0):
					out = append(out, fmt.Sprintf("the %s at line %d", what, c.line(n)))
				}
			}
			stack = append(stack, n)
			return true
		})
	}
	return out
}

// ---- rule 2: the size of Manager ----

type houseMethod struct {
	Pos, Name string
}

// houseMethodsOf lists the methods declared on typeName and *typeName.
func houseMethodsOf(fset *token.FileSet, files []*ast.File, typeName string) []houseMethod {
	var out []houseMethod
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			t := fd.Recv.List[0].Type
			for {
				switch x := t.(type) {
				case *ast.StarExpr:
					t = x.X
					continue
				case *ast.ParenExpr:
					t = x.X
					continue
				case *ast.IndexExpr:
					t = x.X
					continue
				case *ast.IndexListExpr:
					t = x.X
					continue
				}
				break
			}
			if id, ok := t.(*ast.Ident); ok && id.Name == typeName {
				out = append(out, houseMethod{housePos(fset, fd.Pos()), fd.Name.Name})
			}
		}
	}
	return out
}

// houseMethodsByFile formats methods as "file (n): a, b, c" lines.
func houseMethodsByFile(ms []houseMethod) string {
	var order []string
	by := map[string][]string{}
	for _, m := range ms {
		file, _, _ := strings.Cut(m.Pos, ":")
		if by[file] == nil {
			order = append(order, file)
		}
		by[file] = append(by[file], m.Name)
	}
	var b strings.Builder
	for _, file := range order {
		fmt.Fprintf(&b, "\n\t%s (%d): %s", file, len(by[file]), strings.Join(by[file], ", "))
	}
	return b.String()
}

// ---- rule 3: import direction ----

// houseListedPackage is what `go list -deps -json` says of one package.
type houseListedPackage struct {
	ImportPath string
	Imports    []string
	DepOnly    bool
	Error      *struct{ Err string }
}

// houseGoList runs `go list -e -deps` on patterns in dir.
func houseGoList(dir string, env []string, patterns ...string) ([]houseListedPackage, error) {
	args := append([]string{"list", "-e", "-deps", "-json=ImportPath,Imports,DepOnly,Error"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []houseListedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p houseListedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// houseDepProblem is a package that depends on what it must not.
type houseDepProblem struct {
	Rule  string
	From  string   // a package the pattern matched
	To    string   // the forbidden package, or "(missing)", "(error)", "(nothing)" with Note
	Chain []string // From … To, each importing the next
	Note  string   // what is wrong when it is not a forbidden dependency
}

func (p houseDepProblem) String() string {
	if p.Note != "" {
		return fmt.Sprintf("rule %s: %s: %s", p.Rule, p.From, p.Note)
	}
	return fmt.Sprintf("rule %s: %s depends on %s (%s)", p.Rule, p.From, p.To, strings.Join(p.Chain, " → "))
}

// houseForbiddenDeps finds, for each package the patterns matched, the
// forbidden packages it reaches through allowed ones, with a shortest
// import chain to each.
func houseForbiddenDeps(rule string, pkgs []houseListedPackage, forbidden func(string) bool) []houseDepProblem {
	imports := map[string][]string{}
	for _, p := range pkgs {
		imports[p.ImportPath] = p.Imports
	}
	var out []houseDepProblem
	for _, root := range pkgs {
		if root.DepOnly {
			continue
		}
		prev := map[string]string{root.ImportPath: ""}
		queue := []string{root.ImportPath}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			if forbidden(cur) {
				var chain []string
				for p := cur; p != ""; p = prev[p] {
					chain = append([]string{p}, chain...)
				}
				out = append(out, houseDepProblem{Rule: rule, From: root.ImportPath, To: cur, Chain: chain})
				continue // what lies behind it is its own problem
			}
			for _, next := range imports[cur] {
				if _, seen := prev[next]; !seen {
					prev[next] = cur
					queue = append(queue, next)
				}
			}
		}
	}
	return out
}

// houseImportProblems checks the dependency direction of the module at
// root (whose path must be houseModule):
//
//	3a ./licensecore/...           depends on no fyne.io/ package
//	3b ./licensecore/authority/... depends neither on licensecore (exactly) nor on fyne.io/
//	3c licensecore/wire exists and depends neither on licensecore nor on authority
//
// Dependencies are those of the packages' non-test files.
func houseImportProblems(root string, env []string) ([]houseDepProblem, error) {
	fyne := func(p string) bool { return strings.HasPrefix(p, "fyne.io/") }
	var out []houseDepProblem
	check := func(rule, pattern string, forbidden func(string) bool) error {
		pkgs, err := houseGoList(root, env, pattern)
		if err != nil {
			return err
		}
		roots := 0
		for _, p := range pkgs {
			if p.DepOnly {
				continue
			}
			roots++
			if p.Error != nil {
				out = append(out, houseDepProblem{Rule: rule, From: p.ImportPath, To: "(error)", Note: "go list: " + p.Error.Err})
			}
		}
		if roots == 0 {
			out = append(out, houseDepProblem{Rule: rule, From: pattern, To: "(nothing)", Note: "the pattern matched no packages"})
		}
		out = append(out, houseForbiddenDeps(rule, pkgs, forbidden)...)
		return nil
	}
	if err := check("3a", "./licensecore/...", fyne); err != nil {
		return nil, err
	}
	if err := check("3b", "./licensecore/authority/...", func(p string) bool { return p == houseCore || fyne(p) }); err != nil {
		return nil, err
	}
	wire, err := filepath.Glob(filepath.Join(root, "licensecore", "wire", "*.go"))
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(wire, func(p string) bool { return !strings.HasSuffix(p, "_test.go") }) {
		out = append(out, houseDepProblem{Rule: "3c", From: houseWire, To: "(missing)",
			Note: "the package does not exist yet (no non-test .go file in licensecore/wire); it must hold what crosses the wire between app and authority and import neither " + houseCore + " nor " + houseAuthority})
		return out, nil
	}
	err = check("3c", "./licensecore/wire/...", func(p string) bool {
		return p == houseCore || p == houseAuthority || strings.HasPrefix(p, houseAuthority+"/")
	})
	return out, err
}

// ---- rule 4: doc.go ----

// houseDocProblems checks that each directory in dirs (relative to root)
// has a doc.go with a package comment.
func houseDocProblems(root string, dirs []string) []string {
	var out []string
	for _, dir := range dirs {
		name := dir + "/doc.go"
		src, err := os.ReadFile(filepath.Join(root, dir, "doc.go"))
		if errors.Is(err, os.ErrNotExist) {
			out = append(out, fmt.Sprintf("%s: missing: package %s has no doc.go with its package comment", name, dir))
			continue
		} else if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if f.Doc == nil || strings.TrimSpace(f.Doc.Text()) == "" {
			out = append(out, fmt.Sprintf("%s:1: package %s: doc.go has no package comment (a // comment right above `package %s`)", name, f.Name.Name, f.Name.Name))
		}
	}
	return out
}

// ---- rule 5: sentinels in errors.go ----

// houseSentinelProblems flags package-level `var X = errors.New(…)` (alone
// or in a var block) declared in a file other than errors.go.
func houseSentinelProblems(fset *token.FileSet, files []*ast.File) []string {
	var out []string
	for _, f := range files {
		file := fset.Position(f.Pos()).Filename
		if filepath.Base(file) == "errors.go" {
			continue
		}
		pkgName := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"errors"` {
				pkgName = "errors"
				if imp.Name != nil {
					pkgName = imp.Name.Name
				}
			}
		}
		if pkgName == "" || pkgName == "_" {
			continue
		}
		isNew := func(e ast.Expr) bool {
			call, ok := e.(*ast.CallExpr)
			if !ok {
				return false
			}
			if pkgName == "." {
				id, ok := call.Fun.(*ast.Ident)
				return ok && id.Name == "New"
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "New" {
				return false
			}
			id, ok := sel.X.(*ast.Ident)
			return ok && id.Name == pkgName
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					if i < len(vs.Names) && isNew(v) {
						out = append(out, fmt.Sprintf("%s: sentinel %s = errors.New(…) must be declared in errors.go", housePos(fset, vs.Names[i].Pos()), vs.Names[i].Name))
					}
				}
			}
		}
	}
	return out
}

// ==== the rules, on this module ====

func TestHouseRule1Locks(t *testing.T) {
	root := houseModuleRoot(t)
	paths, err := filepath.Glob(filepath.Join(root, "licensecore", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		probs, err := houseCheckLocks("licensecore/"+filepath.Base(p), src)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range probs {
			t.Errorf("rule 1 (no function returns holding a lock): %s", pr)
		}
		n += len(probs)
	}
	if n > 0 {
		t.Logf("rule 1: %d problems; accepted: `X.Lock(); defer X.Unlock()`, or `X.Lock(); …; X.Unlock()` in one block with no return between", n)
	}
}

func TestHouseRule2ManagerMethods(t *testing.T) {
	root := houseModuleRoot(t)
	fset := token.NewFileSet()
	files, err := houseParseDir(fset, root, "licensecore", parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	ms := houseMethodsOf(fset, files, "Manager")
	if len(ms) > houseMaxManagerMethods {
		t.Errorf("rule 2: Manager has %d methods, at most %d allowed (split the aggregate: Admins, Pool, … of DESIGN.md §1); methods by file:%s",
			len(ms), houseMaxManagerMethods, houseMethodsByFile(ms))
	} else {
		t.Logf("rule 2: Manager has %d methods (at most %d)", len(ms), houseMaxManagerMethods)
	}
}

func TestHouseRule3Imports(t *testing.T) {
	probs, err := houseImportProblems(houseModuleRoot(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("%s", p)
	}
}

func TestHouseRule4DocFiles(t *testing.T) {
	root := houseModuleRoot(t)
	var dirs []string
	for _, top := range []string{"licensecore", "screens", "app"} {
		d, err := housePackageDirs(root, top)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) == 0 {
			t.Errorf("rule 4: no package under %s/", top)
		}
		dirs = append(dirs, d...)
	}
	for _, p := range houseDocProblems(root, dirs) {
		t.Errorf("rule 4: %s", p)
	}
}

func TestHouseRule5Sentinels(t *testing.T) {
	root := houseModuleRoot(t)
	dirs, err := housePackageDirs(root, "licensecore")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(houseModule+"/"+dir, func(t *testing.T) {
			fset := token.NewFileSet()
			files, err := houseParseDir(fset, root, dir, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range houseSentinelProblems(fset, files) {
				t.Errorf("rule 5: %s", p)
			}
		})
	}
}

// ==== the checkers, on synthetic input ====

func TestHouseCheckLocks(t *testing.T) {
	const head = "package p\n\nimport \"sync\"\n\ntype S struct {\n\tmu   sync.RWMutex\n\ta, b sync.Mutex\n\tn    int\n}\n\n"
	tests := []struct {
		name string
		src  string   // appended to head
		want []string // one substring per expected problem, in line order
	}{
		// accepted
		{"lock then defer unlock", `func (s *S) f() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 {
		return 1
	}
	return s.n
}`, nil},
		{"rlock then defer runlock", `func (s *S) f() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}`, nil},
		{"lock then unlock later in the block", `func (s *S) f() int {
	s.a.Lock()
	s.n++
	if s.n > 3 {
		s.n = 0
	}
	s.a.Unlock()
	return s.n
}`, nil},
		{"lock and unlock in a loop body and a case", `func (s *S) f(xs []int) {
	for _, x := range xs {
		switch {
		case x > 0:
			s.a.Lock()
			s.n += x
			s.a.Unlock()
		}
	}
}`, nil},
		{"return inside a closure between lock and unlock", `func (s *S) f() {
	s.a.Lock()
	g := func() int { return s.n }
	s.n = g()
	s.a.Unlock()
}`, nil},
		{"break caught by an inner loop or switch", `func (s *S) f() {
	s.a.Lock()
	for {
		break
	}
	switch s.n {
	case 1:
		break
	}
	s.a.Unlock()
}`, nil},
		{"lock in a closure with defer", `func (s *S) f() {
	go func() {
		s.a.Lock()
		defer s.a.Unlock()
		s.n++
	}()
}`, nil},
		{"two locks", `func (s *S) f() {
	s.a.Lock()
	defer s.a.Unlock()
	s.b.Lock()
	s.n++
	s.b.Unlock()
}`, nil},
		{"package-level mutex and a func literal variable", `var mu sync.Mutex

var bump = func(s *S) {
	mu.Lock()
	defer mu.Unlock()
	s.n++
}`, nil},
		{"the word lock in comments", `// f locks a and unlocks it before returning.
func (s *S) f() { s.a.Lock(); s.a.Unlock() }`, nil},

		// refused
		{"early return before unlock", `func (s *S) f() int {
	s.a.Lock()
	if s.n == 0 {
		return 0
	}
	n := s.n
	s.a.Unlock()
	return n
}`, []string{"(*S).f: s.a.Lock() is released by s.a.Unlock() at line 17, but the return at line 14 before it"}},
		{"returns without unlocking", `func (s *S) lock() {
	s.a.Lock()
}`, []string{"(*S).lock: s.a.Lock() is followed neither by `defer s.a.Unlock()` nor by `s.a.Unlock()`"}},
		{"unlock only on one path", `func (s *S) f(x bool) {
	s.a.Lock()
	if x {
		s.a.Unlock()
		return
	}
}`, []string{"s.a.Lock() is followed neither"}},
		{"defer not right after the lock", `func (s *S) f() int {
	s.a.Lock()
	n := s.n
	defer s.a.Unlock()
	return n
}`, []string{"the `defer s.a.Unlock()` at line 14 must come right after the Lock"}},
		{"defer releases another mutex", `func (s *S) f() {
	s.a.Lock()
	defer s.b.Unlock()
}`, []string{"s.a.Lock() is followed neither", "s.b.Unlock() releases a lock this function never takes"}},
		{"rlock released with unlock", `func (s *S) f() int {
	s.mu.RLock()
	defer s.mu.Unlock()
	return s.n
}`, []string{"s.mu.RLock() is followed neither by `defer s.mu.RUnlock()`", "s.mu.Unlock() releases a lock this function never takes with s.mu.Lock()"}},
		{"lock in a closure without unlock", `func (s *S) f() {
	go func() {
		s.a.Lock()
		s.n++
	}()
}`, []string{"func literal (line 12) in (*S).f: s.a.Lock() is followed neither"}},
		{"lock outside a closure, unlock inside", `func (s *S) f() {
	s.a.Lock()
	go func() {
		defer s.a.Unlock()
	}()
}`, []string{"(*S).f: s.a.Lock() is followed neither", "func literal (line 13) in (*S).f: s.a.Unlock() releases a lock this function never takes"}},
		{"lock inside a closure, unlock outside", `func (s *S) f() {
	g := func() { s.a.Lock() }
	g()
	s.a.Unlock()
}`, []string{"func literal (line 12) in (*S).f: s.a.Lock() is followed neither", "(*S).f: s.a.Unlock() releases a lock this function never takes"}},
		{"unlock of a lock a callee took", `func (s *S) lockA() {
	s.a.Lock() // returns holding s.a
}

func (s *S) f() {
	s.lockA()
	defer s.a.Unlock()
}`, []string{"(*S).lockA: s.a.Lock() is followed neither", `comment: says "returns holding"`, "(*S).f: s.a.Unlock() releases a lock this function never takes"}},
		{"comment phrase across lines", `// g takes the lock; the
// caller
// unlocks it.
func g() {}`, []string{`licensecore/x.go:12: comment: says "caller unlocks"`}},
		{"continue between lock and unlock", `func (s *S) f(xs []int) {
	for _, x := range xs {
		s.a.Lock()
		if x < 0 {
			continue
		}
		s.n += x
		s.a.Unlock()
	}
}`, []string{"but the continue at line 15 before it"}},
		{"labeled break out of an inner loop", `func (s *S) f() {
outer:
	for {
		s.a.Lock()
		for {
			break outer
		}
		s.a.Unlock()
	}
}`, []string{"but the break outer at line 16 before it"}},
		{"defer lock after unlock", `func (s *S) f() {
	s.a.Lock()
	defer s.a.Unlock()
	s.a.Unlock()
	defer s.a.Lock()
}`, []string{"s.a.Lock() is not a statement of its own"}},
		{"trylock", `func (s *S) f() {
	if s.a.TryLock() {
		defer s.a.Unlock()
	}
}`, []string{"s.a.TryLock() cannot be followed by this rule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs, err := houseCheckLocks("licensecore/x.go", []byte(head+tt.src+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			ok := len(probs) == len(tt.want)
			for i := 0; ok && i < len(probs); i++ {
				ok = strings.Contains(probs[i].String(), tt.want[i])
			}
			if !ok {
				var got strings.Builder
				for _, p := range probs {
					fmt.Fprintf(&got, "\n\t%s", p)
				}
				t.Errorf("got %d problems:%s\nwant %d, containing in order %q", len(probs), got.String(), len(tt.want), tt.want)
			}
		})
	}
}

func TestHouseCheckMethodCount(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	for name, src := range map[string]string{
		"a.go": "package p\ntype Manager struct{}\ntype Other struct{}\nfunc (m *Manager) A() {}\nfunc (Manager) b() {}\nfunc (o *Other) C() {}\nfunc D(m *Manager) {}\n",
		"b.go": "package p\nfunc (m *Manager) E() {}\ntype G[T any] struct{}\nfunc (g *G[T]) F() {}\n",
	} {
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool {
		return fset.Position(files[i].Pos()).Filename < fset.Position(files[j].Pos()).Filename
	})
	got := houseMethodsOf(fset, files, "Manager")
	want := []houseMethod{{"a.go:4", "A"}, {"a.go:5", "b"}, {"b.go:2", "E"}}
	if !slices.Equal(got, want) {
		t.Errorf("Manager methods = %v, want %v", got, want)
	}
	if g := houseMethodsOf(fset, files, "G"); len(g) != 1 || g[0].Name != "F" {
		t.Errorf("G methods = %v, want [F] (generic receiver)", g)
	}
	if s, want := houseMethodsByFile(got), "\n\ta.go (2): A, b\n\tb.go (1): E"; s != want {
		t.Errorf("houseMethodsByFile = %q, want %q", s, want)
	}
}

func TestHouseCheckSentinels(t *testing.T) {
	tests := []struct {
		name, file, src string
		want            []string
	}{
		{"in errors.go", "p/errors.go", "package p\nimport \"errors\"\nvar ErrA = errors.New(\"a\")\n", nil},
		{"single var elsewhere", "p/a.go", "package p\nimport \"errors\"\nvar ErrA = errors.New(\"a\")\n",
			[]string{"p/a.go:3: sentinel ErrA = errors.New(…) must be declared in errors.go"}},
		{"var block, unexported too", "p/a.go", "package p\nimport \"errors\"\nvar (\n\tErrA = errors.New(\"a\")\n\tx    = 1\n\terrB error = errors.New(\"b\")\n)\n",
			[]string{"p/a.go:4: sentinel ErrA", "p/a.go:6: sentinel errB"}},
		{"renamed import", "p/a.go", "package p\nimport stderr \"errors\"\nvar ErrA = stderr.New(\"a\")\n", []string{"p/a.go:3: sentinel ErrA"}},
		{"inside a function or not errors.New", "p/a.go", "package p\nimport (\"errors\"; \"fmt\")\nvar ErrF = fmt.Errorf(\"f\")\nfunc f() error { var e = errors.New(\"x\"); return e }\n", nil},
		{"another package called errors", "p/a.go", "package p\nimport errors \"example.com/errs\"\nvar ErrA = errors.New(\"a\")\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, tt.file, tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := houseSentinelProblems(fset, []*ast.File{f})
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.Contains(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("got %q, want problems containing %q", got, tt.want)
			}
		})
	}
}

func TestHouseCheckDocFiles(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("top/doc.go", "// Package top is documented.\npackage top\n")
	write("top/good/doc.go", "// Package good is documented.\npackage good\n")
	write("top/good/x.go", "package good\n")
	write("top/nodoc/x.go", "package nodoc\n")
	write("top/bare/doc.go", "package bare\n")
	write("top/detached/doc.go", "// Package detached has a blank line before its clause.\n\npackage detached\n")
	write("top/testdata/x.go", "package ignored\n")
	write("top/_skip/x.go", "package ignored\n")
	write("top/assets/readme.txt", "not a package")
	dirs, err := housePackageDirs(root, "top")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"top", "top/bare", "top/detached", "top/good", "top/nodoc"}; !slices.Equal(dirs, want) {
		t.Fatalf("package dirs = %q, want %q", dirs, want)
	}
	got := houseDocProblems(root, dirs)
	want := []string{
		"top/bare/doc.go:1: package bare: doc.go has no package comment",
		"top/detached/doc.go:1: package detached: doc.go has no package comment",
		"top/nodoc/doc.go: missing: package top/nodoc has no doc.go",
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("got %q, want problems starting with %q", got, want)
	}
}

func TestHouseCheckImports(t *testing.T) {
	t.Run("graph", func(t *testing.T) {
		pkgs := []houseListedPackage{
			{ImportPath: "m/a", Imports: []string{"m/b", "fmt"}},
			{ImportPath: "m/c", Imports: []string{"fmt"}},
			{ImportPath: "m/b", Imports: []string{"fyne.io/fyne/v2/widget", "fyne.io/fyne/v2"}, DepOnly: true},
			{ImportPath: "fyne.io/fyne/v2/widget", Imports: []string{"fyne.io/fyne/v2"}, DepOnly: true},
			{ImportPath: "fyne.io/fyne/v2", DepOnly: true},
			{ImportPath: "fmt", DepOnly: true},
		}
		got := houseForbiddenDeps("x", pkgs, func(p string) bool { return strings.HasPrefix(p, "fyne.io/") })
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		want := []string{
			"rule x: m/a depends on fyne.io/fyne/v2/widget (m/a → m/b → fyne.io/fyne/v2/widget)",
			"rule x: m/a depends on fyne.io/fyne/v2 (m/a → m/b → fyne.io/fyne/v2)",
		}
		if !slices.Equal(s, want) {
			t.Errorf("got %q, want %q", s, want)
		}
	})

	// Real `go list` on small modules laid out like this one, with a local
	// stand-in for Fyne; nothing is downloaded.
	module := func(t *testing.T, files map[string]string) string {
		skipWithoutGo(t)
		dir := t.TempDir()
		files["fyne/go.mod"] = "module fyne.io/fyne/v2\n\ngo 1.22\n"
		files["fyne/fyne.go"] = "package fyne\n\nconst V = 2\n"
		files["m/go.mod"] = "module licensedesk\n\ngo 1.22\n\nrequire fyne.io/fyne/v2 v2.0.0\n\nreplace fyne.io/fyne/v2 => ../fyne\n"
		for rel, src := range files {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(dir, "m")
	}
	env := []string{"GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local"}
	summary := func(probs []houseDepProblem) []string {
		var s []string
		for _, p := range probs {
			s = append(s, p.Rule+" "+p.From+" → "+p.To)
		}
		sort.Strings(s)
		return s
	}
	t.Run("module in order", func(t *testing.T) {
		root := module(t, map[string]string{
			"m/licensecore/core.go":                "package licensecore\n\nimport _ \"licensedesk/licensecore/wire\"\n",
			"m/licensecore/wire/wire.go":           "package wire\n",
			"m/licensecore/authority/authority.go": "package authority\n\nimport _ \"licensedesk/licensecore/wire\"\n",
			"m/screens/screens.go":                 "package screens\n\nimport (\n\t_ \"fyne.io/fyne/v2\"\n\t_ \"licensedesk/licensecore\"\n)\n",
		})
		probs, err := houseImportProblems(root, env)
		if err != nil {
			t.Fatal(err)
		}
		if len(probs) != 0 {
			t.Errorf("got %q, want none", summary(probs))
		}
	})
	t.Run("module out of order", func(t *testing.T) {
		root := module(t, map[string]string{
			"m/licensecore/core.go":                "package licensecore\n\nimport _ \"fyne.io/fyne/v2\"\n",
			"m/licensecore/wire/wire.go":           "package wire\n\nimport _ \"licensedesk/licensecore/authority\"\n",
			"m/licensecore/authority/authority.go": "package authority\n\nimport _ \"licensedesk/licensecore\"\n",
		})
		probs, err := houseImportProblems(root, env)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"3a licensedesk/licensecore → fyne.io/fyne/v2",
			"3a licensedesk/licensecore/authority → fyne.io/fyne/v2",
			"3a licensedesk/licensecore/wire → fyne.io/fyne/v2",
			"3b licensedesk/licensecore/authority → licensedesk/licensecore",
			"3c licensedesk/licensecore/wire → licensedesk/licensecore/authority",
		}
		if got := summary(probs); !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
		for _, p := range probs {
			if p.From == houseWire && p.To == houseAuthority {
				if s := p.String(); !strings.Contains(s, "(licensedesk/licensecore/wire → licensedesk/licensecore/authority)") {
					t.Errorf("chain missing in %q", s)
				}
			}
		}
	})
	t.Run("module without wire", func(t *testing.T) {
		root := module(t, map[string]string{
			"m/licensecore/core.go":                "package licensecore\n",
			"m/licensecore/authority/authority.go": "package authority\n",
		})
		probs, err := houseImportProblems(root, env)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := summary(probs), []string{"3c licensedesk/licensecore/wire → (missing)"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}
