package notify

import (
	"context"
	"slices"

	"socdesk/ent"
	"socdesk/ent/department"
	"socdesk/ent/employee"
)

// EscalationOf are the escalation contacts of users: the socdesk users who
// manage the departments of the employees the users are (the directory:
// an employee's user, their department's manager). A user who is no
// employee, or whose department's manager has no account, has none.
func EscalationOf(ctx context.Context, tx *ent.Tx, users []int) ([]int, error) {
	if len(users) == 0 {
		return nil, nil
	}
	depts, err := tx.Employee.Query().Where(employee.UserIDIn(users...), employee.DepartmentIDNotNil()).
		Select(employee.FieldDepartmentID).All(ctx)
	if err != nil || len(depts) == 0 {
		return nil, err
	}
	ids := make([]int, 0, len(depts))
	for _, e := range depts {
		ids = append(ids, *e.DepartmentID)
	}
	managers, err := tx.Department.Query().Where(department.IDIn(ids...), department.ManagerIDNotNil()).
		QueryManager().Where(employee.UserIDNotNil(), employee.Active(true)).Select(employee.FieldUserID).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(managers))
	for _, m := range managers {
		out = append(out, *m.UserID)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
