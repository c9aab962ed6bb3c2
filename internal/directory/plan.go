package directory

import (
	"context"
	"slices"
	"strings"

	"socdesk/ent"
	"socdesk/ent/department"
	"socdesk/ent/employee"
	"socdesk/ent/user"
	"socdesk/internal/authz"
)

// chunk bounds the values of one IN list and the rows of one bulk insert
// (well under both databases' parameter limits).
const chunk = 500

// plan is what an import will write, worked out from the file and the
// directory before anything is.
type plan struct {
	tx      *ent.Tx
	res     *ImportResult
	columns map[Field]string // the file's headers by field

	rows     []row
	existing map[string]*ent.Employee   // by number: the file's employees already in the directory
	depts    map[string]*ent.Department // by name: the file's departments that exist
	newDepts []string                   // to create, in the file's order
	managers map[string]string          // department name → manager number
	users    map[string]int             // login → user id
	others   map[string]int             // manager numbers outside the file → employee id
}

// errorAt records a line error in the column of f; it reports false once
// enough errors are.
func (p *plan) errorAt(r row, f Field, format string, args ...any) bool {
	return p.res.addError(r.line, p.columns[f], format, args...)
}

// resolve checks every row against the file and the directory, recording
// line errors, and counts what the import would do.
func (p *plan) resolve(ctx context.Context, rows []row) error {
	seen := map[string]int{}        // number → line
	loginLine := map[string]int{}   // login → line
	managerLine := map[string]int{} // department → line its manager was given on
	p.managers = map[string]string{}
	var numbers, deptNames, managerNumbers, logins []string
	for _, r := range rows {
		ok := p.checkRow(r)
		num := r.values[FieldNumber]
		if first, dup := seen[num]; dup && num != "" {
			p.errorAt(r, FieldNumber, "the employee number %s is also on line %d", num, first)
			ok = false
		} else if num != "" {
			seen[num] = r.line
		}
		if login := strings.ToLower(r.values[FieldUser]); login != "" {
			if first, dup := loginLine[login]; dup {
				p.errorAt(r, FieldUser, "the login %s is also on line %d: one employee per user", login, first)
				ok = false
			} else {
				loginLine[login] = r.line
				logins = append(logins, login)
			}
		}
		dept, mgr := r.values[FieldDepartment], r.values[FieldManager]
		if mgr != "" && dept == "" {
			p.errorAt(r, FieldManager, "a manager is that of the row's department, and the row has none")
			ok = false
		}
		if mgr != "" && dept != "" {
			if prev, given := p.managers[dept]; given && prev != mgr {
				p.errorAt(r, FieldManager, "the department %q's manager is %s on line %d", dept, prev, managerLine[dept])
				ok = false
			} else if !given {
				p.managers[dept], managerLine[dept] = mgr, r.line
				managerNumbers = append(managerNumbers, mgr)
			}
		}
		if dept != "" && !slices.Contains(deptNames, dept) {
			deptNames = append(deptNames, dept)
		}
		if ok {
			numbers = append(numbers, num)
			p.rows = append(p.rows, r)
		}
	}
	if err := p.load(ctx, numbers, deptNames, managerNumbers, logins); err != nil {
		return err
	}
	for _, r := range p.rows {
		p.checkReferences(r, seen)
	}
	p.count()
	return nil
}

// checkRow checks a row's own values; it reports whether they are good.
func (p *plan) checkRow(r row) bool {
	ok := true
	for _, c := range []struct {
		f        Field
		required bool
		validate func(string) error
	}{
		{FieldNumber, true, employee.NumberValidator},
		{FieldName, true, employee.NameValidator},
		{FieldEmail, false, employee.EmailValidator},
		{FieldPhone, false, employee.PhoneValidator},
		{FieldDepartment, false, department.NameValidator},
		{FieldManager, false, employee.NumberValidator},
	} {
		v := r.values[c.f]
		switch {
		case v == "" && c.required:
			ok = false
			if !p.errorAt(r, c.f, "is required") {
				return false
			}
		case v == "":
		case c.validate != nil:
			if err := c.validate(v); err != nil {
				ok = false
				if !p.errorAt(r, c.f, "%v", err) {
					return false
				}
			}
		}
	}
	return ok
}

// checkReferences checks a row's manager and user against the directory.
func (p *plan) checkReferences(r row, inFile map[string]int) {
	if dept := r.values[FieldDepartment]; dept != "" {
		if mgr := p.managers[dept]; mgr != "" && r.values[FieldManager] == mgr {
			if _, ok := inFile[mgr]; !ok && p.others[mgr] == 0 {
				p.errorAt(r, FieldManager, "no employee has the number %s, in the directory or in this file", mgr)
			}
		}
	}
	login := strings.ToLower(r.values[FieldUser])
	if login == "" {
		return
	}
	if _, ok := p.users[login]; !ok {
		p.errorAt(r, FieldUser, "no socdesk user has the login %s", login)
	}
}

// load reads what the file refers to: its employees, departments,
// managers and users, and the employees already linked to those users.
func (p *plan) load(ctx context.Context, numbers, deptNames, managerNumbers, logins []string) error {
	p.existing, p.depts, p.users, p.others = map[string]*ent.Employee{}, map[string]*ent.Department{}, map[string]int{}, map[string]int{}
	for part := range slices.Chunk(numbers, chunk) {
		es, err := p.tx.Employee.Query().Where(employee.NumberIn(part...)).All(ctx)
		if err != nil {
			return err
		}
		for _, e := range es {
			p.existing[e.Number] = e
		}
	}
	for part := range slices.Chunk(deptNames, chunk) {
		ds, err := p.tx.Department.Query().Where(department.NameIn(part...)).All(ctx)
		if err != nil {
			return err
		}
		for _, d := range ds {
			p.depts[d.Name] = d
		}
	}
	for _, name := range deptNames {
		if p.depts[name] == nil {
			p.newDepts = append(p.newDepts, name)
		}
	}
	for part := range slices.Chunk(managerNumbers, chunk) {
		es, err := p.tx.Employee.Query().Where(employee.NumberIn(part...)).Select(employee.FieldID, employee.FieldNumber).All(ctx)
		if err != nil {
			return err
		}
		for _, e := range es {
			p.others[e.Number] = e.ID
		}
	}
	var userIDs []int
	for part := range slices.Chunk(logins, chunk) {
		us, err := p.tx.User.Query().Where(user.LoginIn(part...)).Select(user.FieldID, user.FieldLogin).All(authz.System(ctx))
		if err != nil {
			return err
		}
		for _, u := range us {
			p.users[u.Login] = u.ID
			userIDs = append(userIDs, u.ID)
		}
	}
	// A user may move between employees of the file, not away from one
	// the file does not name.
	inFile := map[string]bool{}
	for _, r := range p.rows {
		inFile[r.values[FieldNumber]] = true
	}
	lineOf := map[int]row{}
	for _, r := range p.rows {
		if uid, ok := p.users[strings.ToLower(r.values[FieldUser])]; ok {
			lineOf[uid] = r
		}
	}
	for part := range slices.Chunk(userIDs, chunk) {
		linked, err := p.tx.Employee.Query().Where(employee.UserIDIn(part...)).All(ctx)
		if err != nil {
			return err
		}
		for _, e := range linked {
			if r := lineOf[*e.UserID]; !inFile[e.Number] && r.values[FieldNumber] != e.Number {
				p.errorAt(r, FieldUser, "the login %s is linked to employee %s (%s), who is not in this file: one employee per user",
					strings.ToLower(r.values[FieldUser]), e.Number, e.Name)
			}
		}
	}
	return nil
}

// count works out what each row changes.
func (p *plan) count() {
	p.res.DepartmentsCreated = len(p.newDepts)
	for name, mgr := range p.managers {
		if d := p.depts[name]; d != nil {
			if cur := p.managerID(mgr); cur == 0 || d.ManagerID == nil || *d.ManagerID != cur {
				p.res.DepartmentsUpdated++
			}
		}
	}
	for _, r := range p.rows {
		e := p.existing[r.values[FieldNumber]]
		switch {
		case e == nil:
			p.res.Created++
		case p.changes(r, e):
			p.res.Updated++
		default:
			p.res.Unchanged++
		}
	}
}

// managerID is the id of the existing employee with number, or 0 (one the
// file creates).
func (p *plan) managerID(number string) int {
	if e := p.existing[number]; e != nil {
		return e.ID
	}
	return p.others[number]
}

// deptID is the id of the department name, 0 for one to create or none.
func (p *plan) deptID(name string) int {
	if d := p.depts[name]; d != nil {
		return d.ID
	}
	return 0
}

// changes reports whether row r changes employee e.
func (p *plan) changes(r row, e *ent.Employee) bool {
	v := r.values
	if v[FieldName] != e.Name ||
		(r.has(FieldEmail) && v[FieldEmail] != e.Email) ||
		(r.has(FieldPhone) && v[FieldPhone] != e.Phone) {
		return true
	}
	if r.has(FieldDepartment) && !samePtr(e.DepartmentID, p.deptID(v[FieldDepartment]), v[FieldDepartment] != "") {
		return true
	}
	if r.has(FieldUser) {
		uid, ok := p.users[strings.ToLower(v[FieldUser])]
		return !samePtr(e.UserID, uid, ok)
	}
	return false
}

// samePtr reports whether cur is id (set) or nil (not set); an id of 0 for
// a set value is one not created yet.
func samePtr(cur *int, id int, set bool) bool {
	if !set {
		return cur == nil
	}
	return cur != nil && id != 0 && *cur == id
}

// apply writes the plan: departments, then employees, then managers (who
// may be employees the file creates).
func (p *plan) apply(ctx context.Context) error {
	for part := range slices.Chunk(p.newDepts, chunk) {
		bulk := make([]*ent.DepartmentCreate, len(part))
		for i, name := range part {
			bulk[i] = p.tx.Department.Create().SetName(name)
		}
		ds, err := p.tx.Department.CreateBulk(bulk...).Save(ctx)
		if err != nil {
			return err
		}
		for _, d := range ds {
			p.depts[d.Name] = d
		}
	}
	// Users move between employees of the file: unlink those who change
	// first, so that no two employees have one user on the way.
	var unlink []int
	for _, r := range p.rows {
		if e := p.existing[r.values[FieldNumber]]; e != nil && r.has(FieldUser) && e.UserID != nil &&
			!samePtr(e.UserID, p.users[strings.ToLower(r.values[FieldUser])], r.values[FieldUser] != "") {
			unlink = append(unlink, e.ID)
		}
	}
	for part := range slices.Chunk(unlink, chunk) {
		if err := p.tx.Employee.Update().Where(employee.IDIn(part...)).ClearUserID().Exec(ctx); err != nil {
			return err
		}
	}
	var creates []*ent.EmployeeCreate
	for _, r := range p.rows {
		e := p.existing[r.values[FieldNumber]]
		if e == nil {
			c := p.tx.Employee.Create().SetNumber(r.values[FieldNumber])
			p.set(r, c.Mutation())
			creates = append(creates, c)
			continue
		}
		if !p.changes(r, e) && !slices.Contains(unlink, e.ID) {
			continue
		}
		u := p.tx.Employee.Update().Where(employee.ID(e.ID)) // not UpdateOne: no read back of each row
		p.set(r, u.Mutation())
		if err := u.Exec(ctx); err != nil {
			return err
		}
	}
	for part := range slices.Chunk(creates, chunk) {
		es, err := p.tx.Employee.CreateBulk(part...).Save(ctx)
		if err != nil {
			return err
		}
		for _, e := range es {
			p.existing[e.Number] = e
		}
	}
	for name, mgr := range p.managers {
		d, id := p.depts[name], p.managerID(mgr)
		if d.ManagerID != nil && *d.ManagerID == id {
			continue
		}
		if err := p.tx.Department.UpdateOne(d).SetManagerID(id).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// set gives m the fields row r has.
func (p *plan) set(r row, m *ent.EmployeeMutation) {
	v := r.values
	m.SetName(v[FieldName])
	if r.has(FieldEmail) {
		m.SetEmail(v[FieldEmail])
	}
	if r.has(FieldPhone) {
		m.SetPhone(v[FieldPhone])
	}
	if r.has(FieldDepartment) {
		if name := v[FieldDepartment]; name != "" {
			m.SetDepartmentID(p.depts[name].ID)
		} else {
			m.ClearDepartmentID()
		}
	}
	if r.has(FieldUser) {
		if uid, ok := p.users[strings.ToLower(v[FieldUser])]; ok {
			m.SetUserID(uid)
		} else {
			m.ClearUserID()
		}
	}
}
