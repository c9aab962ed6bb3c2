package graph_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/employee"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
)

const (
	employeeFields     = `id number name email phone active department { id name manager { number } } user { login }`
	createEmployeeMut  = `mutation($in: CreateEmployeeInput!) { createEmployee(input: $in) { ` + employeeFields + ` } }`
	updateEmployeeMut  = `mutation($id: ID!, $in: UpdateEmployeeInput!) { updateEmployee(id: $id, input: $in) { ` + employeeFields + ` } }`
	deleteEmployeeMut  = `mutation($id: ID!) { deleteEmployee(id: $id) { deletedID } }`
	createDeptMut      = `mutation($in: CreateDepartmentInput!) { createDepartment(input: $in) { id name manager { id number department { name } } } }`
	updateDeptMut      = `mutation($id: ID!, $in: UpdateDepartmentInput!) { updateDepartment(id: $id, input: $in) { id name manager { number } } }`
	deleteDeptMut      = `mutation($id: ID!) { deleteDepartment(id: $id) { deletedID } }`
	createCategoryMut  = `mutation($in: CreateExplanationCategoryInput!) { createExplanationCategory(input: $in) { id name description active } }`
	updateCategoryMut  = `mutation($id: ID!, $in: UpdateExplanationCategoryInput!) { updateExplanationCategory(id: $id, input: $in) { id name description active } }`
	deleteCategoryMut  = `mutation($id: ID!) { deleteExplanationCategory(id: $id) { deletedID } }`
	employeesQuery     = `query($q: String, $d: ID, $a: Boolean, $n: Int, $after: Cursor) { employees(query: $q, departmentID: $d, active: $a, first: $n, after: $after) { totalCount edges { cursor node { number name } } pageInfo { hasNextPage endCursor } } }`
	categoriesQuery    = `query($all: Boolean) { explanationCategories(includeInactive: $all) { name active } }`
	importEmployeesMut = `mutation($file: Upload!, $mapping: [ColumnMappingInput!], $dry: Boolean) { importEmployees(file: $file, mapping: $mapping, dryRun: $dry) {
  imported created updated unchanged departmentsCreated departmentsUpdated errors { line column message } } }`
)

type employeeOut struct {
	ID, Number, Name string
	Email, Phone     *string
	Active           bool
	Department       *struct {
		ID, Name string
		Manager  *struct{ Number string }
	}
	User *struct{ Login string }
}

// directorySnapshot is the directory's rows as text, to tell nothing changed.
func (e *env) directorySnapshot() string {
	var b strings.Builder
	for _, x := range e.client.Employee.Query().Order(ent.Asc(employee.FieldID)).AllX(sys()) {
		fmt.Fprintf(&b, "%d %s %s %s %s %v %v %v %s\n", x.ID, x.Number, x.Name, x.Email, x.Phone, derefID(x.DepartmentID), derefID(x.UserID), x.Active, x.UpdatedAt)
	}
	for _, d := range e.client.Department.Query().AllX(sys()) {
		fmt.Fprintf(&b, "D %d %s %v %s\n", d.ID, d.Name, derefID(d.ManagerID), d.UpdatedAt)
	}
	for _, c := range e.client.ExplanationCategory.Query().AllX(sys()) {
		fmt.Fprintf(&b, "C %d %s %s %v\n", c.ID, c.Name, c.Description, c.Active)
	}
	return b.String()
}

func derefID(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func (e *env) createEmployee(in map[string]any) employeeOut {
	e.t.Helper()
	var out struct{ CreateEmployee employeeOut }
	e.do(e.admin, createEmployeeMut, map[string]any{"in": in}).ok().into(&out)
	return out.CreateEmployee
}

func (e *env) createDepartment(in map[string]any) string {
	e.t.Helper()
	var out struct{ CreateDepartment struct{ ID string } }
	e.do(e.admin, createDeptMut, map[string]any{"in": in}).ok().into(&out)
	return out.CreateDepartment.ID
}

// TestDirectoryCRUD: admins create, change and delete employees,
// departments (managed by an employee of another department) and
// categories; Employee.department, Employee.user and Department.manager
// resolve.
func TestDirectoryCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		_, ana := e.user("ana", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView})
		board := e.createDepartment(map[string]any{"name": "Board"})
		boss := e.createEmployee(map[string]any{"number": "1", "name": "Carla Dias", "departmentID": board})
		var d struct {
			CreateDepartment struct {
				ID, Name string
				Manager  struct {
					ID, Number string
					Department struct{ Name string }
				}
			}
		}
		e.do(e.admin, createDeptMut, map[string]any{"in": map[string]any{"name": " Sales ", "managerID": boss.ID}}).ok().into(&d)
		if d.CreateDepartment.Name != "Sales" || d.CreateDepartment.Manager.Number != "1" || d.CreateDepartment.Manager.Department.Name != "Board" {
			t.Fatalf("%+v", d)
		}
		sales := d.CreateDepartment.ID
		emp := e.createEmployee(map[string]any{"number": " 1002 ", "name": "Ana Lima", "email": "ana@example.org", "phone": "+1 555",
			"departmentID": sales, "userID": gid(ana.ID)})
		if emp.Number != "1002" || !emp.Active || emp.Department.Name != "Sales" || emp.Department.Manager.Number != "1" || emp.User.Login != "ana" {
			t.Fatalf("%+v", emp)
		}
		var u struct{ UpdateEmployee employeeOut }
		e.do(e.admin, updateEmployeeMut, map[string]any{"id": emp.ID, "in": map[string]any{
			"name": "Ana Lima Souza", "email": "", "clearDepartment": true, "clearUser": true, "active": false}}).ok().into(&u)
		if x := u.UpdateEmployee; x.Name != "Ana Lima Souza" || (x.Email != nil && *x.Email != "") || x.Phone == nil || x.Department != nil || x.User != nil || x.Active {
			t.Fatalf("%+v", x)
		}
		var ud struct {
			UpdateDepartment struct {
				Name    string
				Manager *struct{ Number string }
			}
		}
		e.do(e.admin, updateDeptMut, map[string]any{"id": sales, "in": map[string]any{"name": "Sales & Marketing", "clearManager": true}}).ok().into(&ud)
		if ud.UpdateDepartment.Name != "Sales & Marketing" || ud.UpdateDepartment.Manager != nil {
			t.Fatalf("%+v", ud)
		}
		e.do(e.admin, deleteEmployeeMut, map[string]any{"id": emp.ID}).ok()
		e.do(e.admin, deleteDeptMut, map[string]any{"id": sales}).ok()
		if e.client.Employee.Query().CountX(sys()) != 1 || e.client.Department.Query().CountX(sys()) != 1 {
			t.Fatal("not deleted")
		}

		var c struct {
			CreateExplanationCategory struct{ ID, Name, Description string }
		}
		e.do(e.admin, createCategoryMut, map[string]any{"in": map[string]any{"name": "Data leakage", "description": "Files sent out"}}).ok().into(&c)
		e.do(e.admin, createCategoryMut, map[string]any{"in": map[string]any{"name": "Adware"}}).ok()
		e.do(e.admin, updateCategoryMut, map[string]any{"id": c.CreateExplanationCategory.ID, "in": map[string]any{"active": false}}).ok()
		var cats struct{ ExplanationCategories []struct{ Name string } }
		e.do(e.admin, categoriesQuery, nil).ok().into(&cats)
		if len(cats.ExplanationCategories) != 1 || cats.ExplanationCategories[0].Name != "Adware" {
			t.Fatalf("active only: %+v", cats)
		}
		e.do(e.admin, categoriesQuery, map[string]any{"all": true}).ok().into(&cats)
		if len(cats.ExplanationCategories) != 2 || cats.ExplanationCategories[0].Name != "Adware" || cats.ExplanationCategories[1].Name != "Data leakage" {
			t.Fatalf("all, by name: %+v", cats)
		}
		e.do(e.admin, deleteCategoryMut, map[string]any{"id": c.CreateExplanationCategory.ID}).ok()
	})
}

// TestDirectoryBadInput: every bad input is refused with its code and the
// field at fault, and changes nothing.
func TestDirectoryBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		_, ana := e.user("ana", user.RoleANALYST, nil)
		_, bob := e.user("bob", user.RoleANALYST, nil)
		dept := e.createDepartment(map[string]any{"name": "Sales"})
		linked := e.createEmployee(map[string]any{"number": "1", "name": "Ana", "userID": gid(ana.ID)})
		other := e.createEmployee(map[string]any{"number": "2", "name": "Bob"})
		e.do(e.admin, createCategoryMut, map[string]any{"in": map[string]any{"name": "Adware"}}).ok()
		before := e.directorySnapshot()
		long := strings.Repeat("é", 129)
		for _, c := range []struct {
			name, query string
			vars        map[string]any
			code, field string
		}{
			{"empty number", createEmployeeMut, map[string]any{"in": map[string]any{"number": " ", "name": "X"}}, "BAD_USER_INPUT", "input.number"},
			{"long number", createEmployeeMut, map[string]any{"in": map[string]any{"number": strings.Repeat("1", 65), "name": "X"}}, "BAD_USER_INPUT", "input.number"},
			{"empty name", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": ""}}, "BAD_USER_INPUT", "input.name"},
			{"long name", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": long}}, "BAD_USER_INPUT", "input.name"},
			{"bad email", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": "X", "email": "Ana <a@b.org>"}}, "BAD_USER_INPUT", "input.email"},
			{"long phone", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": "X", "phone": strings.Repeat("5", 33)}}, "BAD_USER_INPUT", "input.phone"},
			{"unknown department", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": "X", "departmentID": gid(999999)}}, "BAD_USER_INPUT", "input.departmentID"},
			{"unknown user", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": "X", "userID": gid(999999)}}, "BAD_USER_INPUT", "input.userID"},
			{"user linked already", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": "X", "userID": gid(ana.ID)}}, "CONFLICT", "input.userID"},
			{"user linked already, on update", updateEmployeeMut, map[string]any{"id": other.ID, "in": map[string]any{"userID": gid(ana.ID)}}, "CONFLICT", "input.userID"},
			{"duplicate number", createEmployeeMut, map[string]any{"in": map[string]any{"number": "1", "name": "X"}}, "CONFLICT", "input.number"},
			{"duplicate number, on update", updateEmployeeMut, map[string]any{"id": other.ID, "in": map[string]any{"number": "1"}}, "CONFLICT", "input.number"},
			{"department and clear", updateEmployeeMut, map[string]any{"id": other.ID, "in": map[string]any{"departmentID": dept, "clearDepartment": true}}, "BAD_USER_INPUT", "input.clearDepartment"},
			{"user and clear", updateEmployeeMut, map[string]any{"id": other.ID, "in": map[string]any{"userID": gid(bob.ID), "clearUser": true}}, "BAD_USER_INPUT", "input.clearUser"},
			{"no such employee", updateEmployeeMut, map[string]any{"id": gid(999999), "in": map[string]any{"name": "X"}}, "NOT_FOUND", "id"},
			{"no such employee to delete", deleteEmployeeMut, map[string]any{"id": gid(999999)}, "NOT_FOUND", "id"},
			{"no such department", updateDeptMut, map[string]any{"id": gid(999999), "in": map[string]any{"name": "X"}}, "NOT_FOUND", "id"},
			{"no such category", updateCategoryMut, map[string]any{"id": gid(999999), "in": map[string]any{"name": "X"}}, "NOT_FOUND", "id"},
			{"NUL in a name", createEmployeeMut, map[string]any{"in": map[string]any{"number": "9", "name": "A\u0000B"}}, "BAD_USER_INPUT", "input.name"},
			{"empty department", createDeptMut, map[string]any{"in": map[string]any{"name": " "}}, "BAD_USER_INPUT", "input.name"},
			{"long department", createDeptMut, map[string]any{"in": map[string]any{"name": long}}, "BAD_USER_INPUT", "input.name"},
			{"duplicate department", createDeptMut, map[string]any{"in": map[string]any{"name": "Sales"}}, "CONFLICT", "input.name"},
			{"unknown manager", createDeptMut, map[string]any{"in": map[string]any{"name": "Ops", "managerID": gid(999999)}}, "BAD_USER_INPUT", "input.managerID"},
			{"manager and clear", updateDeptMut, map[string]any{"id": dept, "in": map[string]any{"managerID": linked.ID, "clearManager": true}}, "BAD_USER_INPUT", "input.clearManager"},
			{"empty category", createCategoryMut, map[string]any{"in": map[string]any{"name": ""}}, "BAD_USER_INPUT", "input.name"},
			{"long description", createCategoryMut, map[string]any{"in": map[string]any{"name": "X", "description": strings.Repeat("d", 1001)}}, "BAD_USER_INPUT", "input.description"},
			{"duplicate category", createCategoryMut, map[string]any{"in": map[string]any{"name": "Adware"}}, "CONFLICT", "input.name"},
			{"long query", employeesQuery, map[string]any{"q": strings.Repeat("q", 101), "n": 10}, "BAD_USER_INPUT", "query"},
			{"page too large", employeesQuery, map[string]any{"n": 101}, "BAD_USER_INPUT", ""},
		} {
			res := e.do(e.admin, c.query, c.vars)
			if c.field != "" {
				res.wantCode(c.code, c.field)
			} else {
				res.wantCode(c.code)
			}
			if after := e.directorySnapshot(); after != before {
				t.Fatalf("%s changed the directory:\n%s\nwas\n%s", c.name, after, before)
			}
		}
	})
}

// TestDirectoryDeleteInUse: an employee an explanation request names, or
// who manages a department, a department with employees and a category in
// use are not deleted: CONFLICT says what refers to them and what to do.
func TestDirectoryDeleteInUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		tk := e.client.Ticket.Create().SetTitle("DLP").SetKind(ticket.KindANALYSIS).SetBody("b").SetCategoryID(cat).SetSiteID(site).SaveX(sys())
		dept := e.createDepartment(map[string]any{"name": "Sales"})
		violator := e.createEmployee(map[string]any{"number": "1", "name": "Ana", "departmentID": dept})
		manager := e.createEmployee(map[string]any{"number": "2", "name": "Bob"})
		auditor := e.createEmployee(map[string]any{"number": "3", "name": "Cid"})
		e.do(e.admin, updateDeptMut, map[string]any{"id": dept, "in": map[string]any{"managerID": manager.ID}}).ok()
		var c struct{ CreateExplanationCategory struct{ ID string } }
		e.do(e.admin, createCategoryMut, map[string]any{"in": map[string]any{"name": "Data leakage"}}).ok().into(&c)
		id := func(gqlID string) int {
			var n int
			for _, x := range e.client.Employee.Query().AllX(sys()) {
				if gid(x.ID) == gqlID {
					n = x.ID
				}
			}
			return n
		}
		catID := e.client.ExplanationCategory.Query().OnlyIDX(sys())
		e.client.ExplanationRequest.Create().SetTicketID(tk.ID).SetViolatorID(id(violator.ID)).SetManagerID(id(manager.ID)).
			SetAuditorID(id(auditor.ID)).SetCategoryID(catID).SetDeadline(time.Now().Add(time.Hour)).SaveX(sys())
		before := e.directorySnapshot()
		for _, c := range []struct {
			query, id string
			msg       []string
		}{
			{deleteEmployeeMut, violator.ID, []string{"the violator of 1 explanation request", "deactivate"}},
			{deleteEmployeeMut, manager.ID, []string{"the manager of 1 explanation request", `the manager of the department(s) "Sales"`}},
			{deleteEmployeeMut, auditor.ID, []string{"the auditor of 1 explanation request"}},
			{deleteDeptMut, dept, []string{`"Sales" has 1 employee`, "move them"}},
			{deleteCategoryMut, c.CreateExplanationCategory.ID, []string{`"Data leakage" is used by 1 explanation request`, "deactivate it instead"}},
		} {
			res := e.do(e.admin, c.query, map[string]any{"id": c.id})
			res.wantCode("CONFLICT", "id")
			for _, m := range c.msg {
				if !strings.Contains(res.Errors[0].Message, m) {
					t.Fatalf("%q does not say %q", res.Errors[0].Message, m)
				}
			}
			if e.directorySnapshot() != before {
				t.Fatal("changed")
			}
		}
		// Deactivating is the way out.
		var u struct{ UpdateEmployee employeeOut }
		e.do(e.admin, updateEmployeeMut, map[string]any{"id": violator.ID, "in": map[string]any{"active": false}}).ok().into(&u)
		if u.UpdateEmployee.Active {
			t.Fatal("still active")
		}
	})
}

// TestDirectoryList: employees are listed by name then id, a page at a
// time; query matches number, name or email ignoring case; department and
// active narrow it. Departments are listed by name.
func TestDirectoryList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		sales := e.createDepartment(map[string]any{"name": "Sales"})
		e.createDepartment(map[string]any{"name": "Board"})
		for _, x := range []map[string]any{
			{"number": "A-7", "name": "Zoe", "email": "zoe@corp.example", "departmentID": sales},
			{"number": "B-1", "name": "ana", "departmentID": sales},
			{"number": "C-3", "name": "Bruno", "email": "Ana.B@corp.example", "active": false},
			{"number": "D-4", "name": "Ana"},
			{"number": "E-5", "name": "Ana"},
		} {
			e.createEmployee(x)
		}
		list := func(vars map[string]any) []string {
			t.Helper()
			var out []string
			for {
				var r struct {
					Employees struct {
						TotalCount int
						Edges      []struct{ Node struct{ Number string } }
						PageInfo   struct {
							HasNextPage bool
							EndCursor   string
						}
					}
				}
				e.do(e.admin, employeesQuery, vars).ok().into(&r)
				for _, ed := range r.Employees.Edges {
					out = append(out, ed.Node.Number)
				}
				if !r.Employees.PageInfo.HasNextPage {
					return out
				}
				vars["after"] = r.Employees.PageInfo.EndCursor
			}
		}
		same := func(got []string, want ...string) {
			t.Helper()
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
		// By name (case as the database compares), then id, two a page.
		all := list(map[string]any{"n": 2})
		same(all, wantByName(e, "")...)
		if len(all) != 5 {
			t.Fatalf("%v", all)
		}
		same(list(map[string]any{"n": 2, "q": "ANA"}), wantByName(e, "ANA")...)
		same(list(map[string]any{"n": 10, "q": "a-7"}), "A-7")
		same(list(map[string]any{"n": 10, "q": "CORP.EXAMPLE", "a": true}), "A-7")
		same(list(map[string]any{"n": 10, "d": sales}), wantByName(e, "", sales)...)
		var d struct {
			Departments struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
		e.do(e.admin, `{ departments(first: 10) { edges { node { name } } } }`, nil).ok().into(&d)
		if len(d.Departments.Edges) != 2 || d.Departments.Edges[0].Node.Name != "Board" {
			t.Fatalf("%+v", d)
		}
	})
}

// wantByName is the numbers of the employees whose number, name or email
// holds q (ignoring case), in the department when given, ordered as the
// database orders names.
func wantByName(e *env, q string, dept ...string) []string {
	var out []string
	for _, x := range e.client.Employee.Query().Order(ent.Asc(employee.FieldName), ent.Asc(employee.FieldID)).AllX(sys()) {
		hit := strings.Contains(strings.ToLower(x.Number+"|"+x.Name+"|"+x.Email), strings.ToLower(q))
		if len(dept) > 0 && (x.DepartmentID == nil || gid(*x.DepartmentID) != dept[0]) {
			hit = false
		}
		if hit {
			out = append(out, x.Number)
		}
	}
	return out
}

// TestDirectoryPermissions: those who read tickets read the directory;
// others are refused it; only admins change it (categories too); any
// viewer reads the categories.
func TestDirectoryPermissions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		reader, _ := e.user("reader", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit})
		nobody, _ := e.user("nobody", user.RoleANALYST, nil)
		dept := e.createDepartment(map[string]any{"name": "Sales"})
		emp := e.createEmployee(map[string]any{"number": "1", "name": "Ana", "departmentID": dept})
		e.do(e.admin, updateDeptMut, map[string]any{"id": dept, "in": map[string]any{"managerID": emp.ID}}).ok()
		var c struct{ CreateExplanationCategory struct{ ID string } }
		e.do(e.admin, createCategoryMut, map[string]any{"in": map[string]any{"name": "Adware"}}).ok().into(&c)

		var r struct {
			Employees struct {
				Edges []struct{ Node employeeOut }
			}
		}
		e.do(reader, `{ employees(first: 10) { edges { node { `+employeeFields+` } } } }`, nil).ok().into(&r)
		if len(r.Employees.Edges) != 1 || r.Employees.Edges[0].Node.Department.Manager.Number != "1" {
			t.Fatalf("%+v", r)
		}
		e.do(reader, `{ departments(first: 10) { edges { node { name manager { name } } } } }`, nil).ok()
		e.do(nobody, `{ employees(first: 10) { edges { node { id } } } }`, nil).wantCode("FORBIDDEN")
		e.do(nobody, `{ departments(first: 10) { edges { node { id } } } }`, nil).wantCode("FORBIDDEN")
		var cats struct{ ExplanationCategories []struct{ Name string } }
		e.do(nobody, categoriesQuery, nil).ok().into(&cats)
		if len(cats.ExplanationCategories) != 1 {
			t.Fatalf("%+v", cats)
		}
		before := e.directorySnapshot()
		for _, tok := range []string{reader, nobody} {
			for _, m := range []struct {
				query string
				vars  map[string]any
			}{
				{createEmployeeMut, map[string]any{"in": map[string]any{"number": "2", "name": "X", "userID": gid(999999)}}},
				{updateEmployeeMut, map[string]any{"id": emp.ID, "in": map[string]any{"name": "X"}}},
				{deleteEmployeeMut, map[string]any{"id": emp.ID}},
				{createDeptMut, map[string]any{"in": map[string]any{"name": "Ops"}}},
				{updateDeptMut, map[string]any{"id": dept, "in": map[string]any{"name": "Ops"}}},
				{deleteDeptMut, map[string]any{"id": dept}},
				{createCategoryMut, map[string]any{"in": map[string]any{"name": "X"}}},
				{updateCategoryMut, map[string]any{"id": c.CreateExplanationCategory.ID, "in": map[string]any{"name": "X"}}},
				{deleteCategoryMut, map[string]any{"id": c.CreateExplanationCategory.ID}},
			} {
				e.do(tok, m.query, m.vars).wantCode("FORBIDDEN")
			}
			e.importCSV(tok, "number,name\n5,Eve\n", nil, false).wantCode("FORBIDDEN")
		}
		if e.directorySnapshot() != before {
			t.Fatal("a non-admin changed the directory")
		}
	})
}

// importCSV sends importEmployees as a GraphQL multipart request (with
// the non-simple header that keeps cross-site forms out: Apollo's, which
// clients of that family send).
func (e *env) importCSV(token, csv string, mapping []map[string]any, dry bool) *result {
	e.t.Helper()
	ct, body := multipartBody(e.t, importEmployeesMut, map[string]any{"file": nil, "mapping": mapping, "dry": dry},
		map[string][]string{"0": {"variables.file"}}, part{name: "0", filename: "employees.csv", contentType: "text/csv", body: []byte(csv)})
	return e.postMultipart(token, ct, body, map[string]string{"Apollo-Require-Preflight": "true"})
}

type importOut struct {
	ImportEmployees struct {
		Imported                                                            bool
		Created, Updated, Unchanged, DepartmentsCreated, DepartmentsUpdated int
		Errors                                                              []struct {
			Line    int
			Column  *string
			Message string
		}
	}
}

// TestImportEmployeesOverHTTP: the import through the API: a dry run
// writes nothing, the import creates employees and departments with their
// managers, a second one updates, and a file with bad lines reports them
// by line and column and imports nothing.
func TestImportEmployeesOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		file := "\xef\xbb\xbfEmp No;Full Name;Mail;Abteilung;Manager\n" +
			"100;Ana Lima;ana@example.org;Sales;300\n" +
			"200;\"Costa; Bruno\";;Sales;300\n" +
			"300;Carla;;Board;\n"
		mapping := []map[string]any{{"column": "abteilung", "field": "DEPARTMENT"}}
		var out importOut
		e.importCSV(e.admin, file, mapping, true).ok().into(&out)
		if r := out.ImportEmployees; r.Imported || r.Created != 3 || r.DepartmentsCreated != 2 || len(r.Errors) != 0 {
			t.Fatalf("dry run: %+v", r)
		}
		if e.client.Employee.Query().CountX(sys()) != 0 {
			t.Fatal("a dry run wrote")
		}
		e.importCSV(e.admin, file, mapping, false).ok().into(&out)
		if r := out.ImportEmployees; !r.Imported || r.Created != 3 || r.DepartmentsCreated != 2 {
			t.Fatalf("import: %+v", r)
		}
		var list struct {
			Employees struct {
				Edges []struct{ Node employeeOut }
			}
		}
		e.do(e.admin, `{ employees(first: 10, query: "bruno") { edges { node { `+employeeFields+` } } } }`, nil).ok().into(&list)
		if len(list.Employees.Edges) != 1 || list.Employees.Edges[0].Node.Name != "Costa; Bruno" ||
			list.Employees.Edges[0].Node.Department.Name != "Sales" || list.Employees.Edges[0].Node.Department.Manager.Number != "300" {
			t.Fatalf("%+v", list)
		}
		e.importCSV(e.admin, "number,name,email\n100,Ana Lima,ana.lima@example.org\n300,Carla,\n", nil, false).ok().into(&out)
		if r := out.ImportEmployees; r.Updated != 1 || r.Unchanged != 1 || r.Created != 0 {
			t.Fatalf("second import: %+v", r)
		}
		before := e.directorySnapshot()
		e.importCSV(e.admin, "number,name,email\n400,Dan,dan@example.org\n500,,\n600,Eve,nope\n", nil, false).ok().into(&out)
		r := out.ImportEmployees
		if r.Imported || len(r.Errors) != 2 || r.Errors[0].Line != 3 || *r.Errors[0].Column != "name" || r.Errors[1].Line != 4 || *r.Errors[1].Column != "email" {
			t.Fatalf("bad lines: %+v", r)
		}
		if e.directorySnapshot() != before {
			t.Fatal("a file with errors wrote")
		}
		// A mapping to a column the file has not is bad input, naming it.
		e.importCSV(e.admin, "number,name\n1,A\n", []map[string]any{{"column": "dept", "field": "DEPARTMENT"}}, false).wantCode("BAD_USER_INPUT", "mapping[0].column")
	})
}
