package directory_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"socdesk/ent"
	"socdesk/ent/department"
	"socdesk/ent/employee"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/directory"
	"socdesk/internal/errs"
	"socdesk/internal/viewer"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func sys() context.Context { return authz.System(context.Background()) }

type fixture struct {
	t      *testing.T
	client *ent.Client
	svc    *directory.Service
	admin  context.Context
}

// forEachBackend runs fn against PostgreSQL and SQLite, as an admin.
func forEachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			client := testdb.Open(t, b, testdb.Options{}).Client
			u := client.User.Create().SetLogin("root").SetDisplayName("root").SetRole(user.RoleADMIN).SaveX(sys())
			ctx := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Login: u.Login, Role: viewer.RoleAdmin})
			fn(t, &fixture{t: t, client: client, svc: &directory.Service{Client: client}, admin: ctx})
		})
	}
}

func (f *fixture) importCSV(csv string, opts directory.ImportOptions) *directory.ImportResult {
	f.t.Helper()
	res, err := f.svc.Import(f.admin, strings.NewReader(csv), opts)
	if err != nil {
		f.t.Fatalf("import: %v", err)
	}
	return res
}

func (f *fixture) employees() map[string]*ent.Employee {
	out := map[string]*ent.Employee{}
	for _, e := range f.client.Employee.Query().WithDepartment().WithUser().AllX(sys()) {
		out[e.Number] = e
	}
	return out
}

// snapshot is the directory as text, to tell that nothing changed.
func (f *fixture) snapshot() string {
	var b strings.Builder
	for _, e := range f.client.Employee.Query().Order(ent.Asc(employee.FieldID)).AllX(sys()) {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%v|%v|%v|%v\n", e.Number, e.Name, e.Email, e.Phone, ptr(e.DepartmentID), ptr(e.UserID), e.Active, e.UpdatedAt.UnixNano())
	}
	for _, d := range f.client.Department.Query().Order(ent.Asc(department.FieldID)).AllX(sys()) {
		fmt.Fprintf(&b, "D %s|%v\n", d.Name, ptr(d.ManagerID))
	}
	return b.String()
}

func ptr(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func wantCounts(t *testing.T, res *directory.ImportResult, created, updated, unchanged, deptsCreated int) {
	t.Helper()
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if res.Created != created || res.Updated != updated || res.Unchanged != unchanged || res.DepartmentsCreated != deptsCreated {
		t.Fatalf("counts %+v, want created %d updated %d unchanged %d departmentsCreated %d", res, created, updated, unchanged, deptsCreated)
	}
}

// lineErr is an expected error: its line, column ("" for none) and a
// part of its message.
type lineErr struct {
	line   int
	column string
	msg    string
}

func wantErrors(t *testing.T, res *directory.ImportResult, want ...lineErr) {
	t.Helper()
	if res.Imported {
		t.Fatalf("imported despite errors")
	}
	got := res.Errors
	if len(got) != len(want) {
		t.Fatalf("errors %s, want %d: %+v", show(got), len(want), want)
	}
	for i, w := range want {
		col := ""
		if got[i].Column != nil {
			col = *got[i].Column
		}
		if got[i].Line != w.line || col != w.column || !strings.Contains(got[i].Message, w.msg) {
			t.Fatalf("error %d is %s, want %+v", i, show(got[i:i+1]), w)
		}
	}
}

func show(es []directory.LineError) string {
	var parts []string
	for _, e := range es {
		col := "-"
		if e.Column != nil {
			col = *e.Column
		}
		parts = append(parts, fmt.Sprintf("{line %d col %s: %s}", e.Line, col, e.Message))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestImportCreatesAndUpdates: a first import creates employees and their
// departments with managers (one from another department); a second import
// of a changed export updates by number, creates the new, and leaves the
// rest unchanged.
func TestImportCreatesAndUpdates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		f.client.User.Create().SetLogin("ana").SetDisplayName("Ana").SaveX(sys())
		res := f.importCSV(`Employee Number,Full Name,E-Mail,Mobile,Dept,Manager,Login
1001,Ana Lima,ana@example.org,+55 11 5555,Sales,1003,ANA
1002,Bruno Costa,bruno@example.org,,Sales,1003,
1003,Carla Dias,carla@example.org,,Board,,
`, directory.ImportOptions{})
		wantCounts(t, res, 3, 0, 0, 2)
		if !res.Imported {
			t.Fatal("not imported")
		}
		es := f.employees()
		if es["1001"].Name != "Ana Lima" || es["1001"].Email != "ana@example.org" || es["1001"].Phone != "+55 11 5555" ||
			es["1001"].Edges.Department.Name != "Sales" || es["1001"].Edges.User == nil || es["1001"].Edges.User.Login != "ana" {
			t.Fatalf("1001: %+v %+v", es["1001"], es["1001"].Edges)
		}
		sales := f.client.Department.Query().Where(department.Name("Sales")).OnlyX(sys())
		if sales.ManagerID == nil || *sales.ManagerID != es["1003"].ID {
			t.Fatalf("Sales' manager: %v, want Carla (%d), of the Board", ptr(sales.ManagerID), es["1003"].ID)
		}

		// The second export: Bruno's email changes, Dan is new, Carla
		// stays; the file has no phone column, so phones stay.
		res = f.importCSV(`number;name;email;department;manager
1001;Ana Lima;ana@example.org;Sales;1003
1002;Bruno Costa;bruno.costa@example.org;Sales;1003
1003;Carla Dias;carla@example.org;Board;
1004;Dan Reis;;Support;1002
`, directory.ImportOptions{})
		wantCounts(t, res, 1, 1, 2, 1)
		es = f.employees()
		if es["1002"].Email != "bruno.costa@example.org" || es["1001"].Phone != "+55 11 5555" || es["1001"].Edges.User == nil {
			t.Fatalf("after the update: %+v, %+v", es["1002"], es["1001"])
		}
		support := f.client.Department.Query().Where(department.Name("Support")).OnlyX(sys())
		if support.ManagerID == nil || *support.ManagerID != es["1002"].ID || es["1004"].Edges.Department.Name != "Support" {
			t.Fatalf("Support: %+v", support)
		}
		if n := f.client.Employee.Query().CountX(sys()); n != 4 {
			t.Fatalf("%d employees, want 4", n)
		}
		// The same file again changes nothing.
		before := f.snapshot()
		res = f.importCSV(`number;name;email;department;manager
1004;Dan Reis;;Support;1002
`, directory.ImportOptions{})
		wantCounts(t, res, 0, 0, 1, 0)
		if f.snapshot() != before {
			t.Fatal("an unchanged import wrote")
		}
	})
}

// TestImportFormats: the byte order mark, semicolons, quoted separators
// and newlines, CRLF line ends, blank lines, header names in any case and
// spacing, and an explicit mapping of columns no alias knows.
func TestImportFormats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		res := f.importCSV("\xef\xbb\xbf  EMP NO ; Name ;e_mail\r\n7;\"Lima; Ana\";a@example.org\r\n\r\n8;\"Costa, \"\"Bruno\"\"\nJr.\";\r\n", directory.ImportOptions{})
		wantCounts(t, res, 2, 0, 0, 0)
		es := f.employees()
		if es["7"].Name != "Lima; Ana" || es["7"].Email != "a@example.org" || es["8"].Name != "Costa, \"Bruno\"\nJr." {
			t.Fatalf("%q %q", es["7"].Name, es["8"].Name)
		}
		// A comma file whose names hold semicolons is still a comma file.
		res = f.importCSV("number,name,Personalnummer Vorgesetzter,Abteilung\n9,\"A;B;C\",,\n10,Eva,9,R&D\n", directory.ImportOptions{
			Mapping: []*directory.ColumnMapping{{Column: "personalnummer vorgesetzter", Field: directory.FieldManager}, {Column: "ABTEILUNG", Field: directory.FieldDepartment}},
		})
		wantCounts(t, res, 2, 0, 0, 1)
		es = f.employees()
		rd := f.client.Department.Query().Where(department.Name("R&D")).OnlyX(sys())
		if es["9"].Name != "A;B;C" || es["10"].Edges.Department == nil || rd.ManagerID == nil || *rd.ManagerID != es["9"].ID {
			t.Fatalf("%+v %+v", es["9"], rd)
		}
		// A mapping wins over an alias: here "id" is not the number.
		res = f.importCSV("id,staff,name\nx1,11,Gil\n", directory.ImportOptions{
			Mapping: []*directory.ColumnMapping{{Column: "staff", Field: directory.FieldNumber}},
		})
		wantCounts(t, res, 1, 0, 0, 0)
		if f.employees()["11"] == nil {
			t.Fatal("the mapped number was not used")
		}
	})
}

// TestImportLineErrors: every kind of bad line is reported with its line
// as the file counts it (a quoted newline makes a record span two) and its
// column, and nothing at all is imported, the good lines neither.
func TestImportLineErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		f.client.User.Create().SetLogin("ana").SetDisplayName("Ana").SaveX(sys())
		before := f.snapshot()
		file := `number,name,email,department,manager,login
1,"Ana
Lima",ana@example.org,Sales,,ana
2,,b@example.org,,,
3,Carl,not-an-email,,,
1,Ana again,,,,
4,Dora,,Ops,999,
5,Eli,,,,nobody
6,Fay,,
7,Gus,,,,ANA
8,Hal,,Ops,1,
` + strings.Repeat("x", 200) + `,Long,,,,
13,Ivy` + "\x00" + `Lee,,Sa` + "\x00" + `les,,
`
		res := f.importCSV(file, directory.ImportOptions{})
		wantErrors(t, res,
			lineErr{4, "name", "is required"},
			lineErr{5, "email", "email address"},
			lineErr{6, "number", "also on line 2"},
			lineErr{7, "manager", "no employee has the number 999"},
			lineErr{8, "login", "no socdesk user has the login nobody"},
			lineErr{9, "", "has 4 columns, the header 6"},
			lineErr{10, "login", "also on line 2"},
			// The first manager given for Ops wins; the second is wrong.
			lineErr{11, "manager", `"Ops"'s manager is 999 on line 7`},
			lineErr{12, "number", "at most 64"},
			lineErr{13, "name", "NUL character"},
			lineErr{13, "department", "NUL character"},
		)
		if f.snapshot() != before {
			t.Fatal("a file with errors wrote")
		}
		if res.Created == 0 {
			t.Fatalf("the good lines' counts are reported: %+v", res)
		}
	})
}

// TestImportDryRun: a dry run reports what the import would do and writes
// nothing; the same file imported then does it.
func TestImportDryRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		f.importCSV("number,name\n1,Ana\n", directory.ImportOptions{})
		before := f.snapshot()
		file := "number,name,department\n1,Ana Lima,Sales\n2,Bruno,Sales\n"
		res := f.importCSV(file, directory.ImportOptions{DryRun: true})
		wantCounts(t, res, 1, 1, 0, 1)
		if res.Imported || f.snapshot() != before {
			t.Fatal("a dry run wrote")
		}
		res = f.importCSV(file, directory.ImportOptions{})
		wantCounts(t, res, 1, 1, 0, 1)
		if !res.Imported || f.employees()["1"].Name != "Ana Lima" {
			t.Fatal("not imported")
		}
	})
}

// TestImportUsers: a user may move between employees of one file; a user
// linked to an employee the file does not name, or who does not exist, is
// refused; an empty login column clears the link.
func TestImportUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		f.client.User.Create().SetLogin("ana").SetDisplayName("Ana").SaveX(sys())
		f.client.User.Create().SetLogin("bruno").SetDisplayName("Bruno").SaveX(sys())
		wantCounts(t, f.importCSV("number,name,user\n1,Ana,ana\n2,Bruno,bruno\n3,Carl,\n", directory.ImportOptions{}), 3, 0, 0, 0)
		// Swap the two users in one file.
		wantCounts(t, f.importCSV("number,name,user\n1,Ana,bruno\n2,Bruno,ana\n", directory.ImportOptions{}), 0, 2, 0, 0)
		es := f.employees()
		if es["1"].Edges.User.Login != "bruno" || es["2"].Edges.User.Login != "ana" {
			t.Fatal("not swapped")
		}
		before := f.snapshot()
		res := f.importCSV("number,name,user\n3,Carl,ana\n", directory.ImportOptions{})
		wantErrors(t, res, lineErr{2, "user", "linked to employee 2 (Bruno), who is not in this file"})
		if f.snapshot() != before {
			t.Fatal("wrote")
		}
		wantCounts(t, f.importCSV("number,name,user\n1,Ana,\n", directory.ImportOptions{}), 0, 1, 0, 0)
		if f.employees()["1"].UserID != nil {
			t.Fatal("the link stays")
		}
	})
}

// TestImportFileErrors: what is wrong with the file as a whole fails the
// import with BAD_USER_INPUT naming the file or the mapping, writing
// nothing: too large or too many rows (found while reading, not after),
// no header, a header without number or name, a mapping to a column that
// is not there.
func TestImportFileErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		importErr := func(r io.Reader, opts directory.ImportOptions, field, msg string) {
			t.Helper()
			_, err := f.svc.Import(f.admin, r, opts)
			e, ok := errs.As(err)
			if !ok || e.Code != errs.BadUserInput || e.Field != field || !strings.Contains(e.Message, msg) {
				t.Fatalf("got %v, want BAD_USER_INPUT on %s: %s", err, field, msg)
			}
		}
		// An endless stream: refused once past the bound.
		big := &endless{prefix: "number,name,notes\n", line: "1234567,Some Body," + strings.Repeat("n", 1000) + "\n"}
		importErr(big, directory.ImportOptions{}, "file", "larger than 10 MiB")
		if big.read > directory.MaxImportBytes+128<<10 {
			t.Fatalf("read %d bytes of a file refused at %d", big.read, directory.MaxImportBytes)
		}
		var rows strings.Builder
		rows.WriteString("number,name\n")
		for i := range directory.MaxImportRows + 1 {
			fmt.Fprintf(&rows, "%d,n\n", i)
		}
		importErr(strings.NewReader(rows.String()), directory.ImportOptions{}, "file", "more than 50000 rows")
		importErr(strings.NewReader(""), directory.ImportOptions{}, "file", "empty")
		importErr(strings.NewReader("\xef\xbb\xbf"), directory.ImportOptions{}, "file", "empty")
		importErr(strings.NewReader("number,name\n"), directory.ImportOptions{Mapping: []*directory.ColumnMapping{{Column: "Dept", Field: directory.FieldDepartment}}},
			"mapping[0].column", `no column "Dept"`)
		importErr(strings.NewReader("number,name,a,b\n"), directory.ImportOptions{Mapping: []*directory.ColumnMapping{
			{Column: "a", Field: directory.FieldEmail}, {Column: "b", Field: directory.FieldEmail}}}, "mapping", "both mapped to EMAIL")
		res := f.importCSV("nummer,name\n1,Ana\n", directory.ImportOptions{})
		wantErrors(t, res, lineErr{1, "", "no column for the number"})
		if n := f.client.Employee.Query().CountX(sys()); n != 0 {
			t.Fatalf("%d employees written", n)
		}
		// A big file within the bounds imports.
		rows.Reset()
		rows.WriteString("number,name,department\n")
		for i := range 2000 {
			fmt.Fprintf(&rows, "%d,Person %d,Dept %d\n", i, i, i%7)
		}
		wantCounts(t, f.importCSV(rows.String(), directory.ImportOptions{}), 2000, 0, 0, 7)
	})
}

// endless is a CSV file without end, counting what was read of it.
type endless struct {
	prefix, line string
	read         int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		var src string
		if e.read < len(e.prefix) {
			src = e.prefix[e.read:]
		} else {
			src = e.line[(e.read-len(e.prefix))%len(e.line):]
		}
		c := copy(p[n:], src)
		n += c
		e.read += c
	}
	return n, nil
}

// TestImportForbidden: only admins import.
func TestImportForbidden(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 1, Login: "x", Role: viewer.RoleAnalyst})
		_, err := f.svc.Import(ctx, strings.NewReader("number,name\n1,A\n"), directory.ImportOptions{})
		if err == nil || f.client.Employee.Query().CountX(sys()) != 0 {
			t.Fatalf("a non-admin imported: %v", err)
		}
	})
}

// TestImportMalformedLinesAndErrorCap: a line CSV cannot parse (a bare
// quote) is reported at its line and the lines after it are still
// checked; past MaxImportErrors the errors stop, the last saying so.
func TestImportMalformedLinesAndErrorCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		res := f.importCSV("number,name\n1,Ana \"the\" Lima\n2,\n3,Carl\n", directory.ImportOptions{})
		wantErrors(t, res, lineErr{2, "", `bare "`}, lineErr{3, "name", "is required"})
		var b strings.Builder
		b.WriteString("number,name\n")
		for i := range directory.MaxImportErrors + 50 {
			fmt.Fprintf(&b, "%d,\n", i)
		}
		res = f.importCSV(b.String(), directory.ImportOptions{})
		if len(res.Errors) != directory.MaxImportErrors || res.Errors[0].Line != 2 ||
			!strings.Contains(res.Errors[len(res.Errors)-1].Message, "only the first 100 errors") || res.Imported {
			t.Fatalf("%d errors, the last %+v", len(res.Errors), res.Errors[len(res.Errors)-1])
		}
		if n := f.client.Employee.Query().CountX(sys()); n != 0 {
			t.Fatalf("%d written", n)
		}
	})
}
