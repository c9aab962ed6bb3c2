// Package directory is the employee directory explanation requests draw
// on, kept by admins and imported from HR exports: employees (number,
// name, email, phone, department, an optional socdesk user), departments
// with their managers, and the admin-defined explanation categories.
//
// Who may read and write it is the policies' to say (authz.DirectoryPolicy,
// authz.AdminOnly); the field rules (lengths, email syntax) are the ent
// schema's validators, which this package calls to name the field at fault.
// A record others refer to is not deleted: the error says what refers to it
// and suggests deactivating it instead.
package directory

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/department"
	"socdesk/ent/employee"
	"socdesk/ent/explanationcategory"
	"socdesk/ent/explanationrequest"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/txn"
)

// Bounds of the directory (page sizes are the API's, at most 100).
const (
	// MaxQueryRunes bounds a search of the directory.
	MaxQueryRunes = 100
	// MaxCategories bounds the explanation categories, listed whole.
	MaxCategories = 200
	// MaxImportBytes and MaxImportRows bound a CSV import, checked while
	// it is read.
	MaxImportBytes = 10 << 20
	MaxImportRows  = 50_000
	// MaxImportErrors is how many line errors an import reports.
	MaxImportErrors = 100
)

// Service keeps the directory.
type Service struct {
	Client *ent.Client
}

// EmployeeInput creates or changes an employee; nil fields stay on update.
// An empty email or phone clears it.
type EmployeeInput struct {
	Number, Name, Email, Phone *string
	DepartmentID, UserID       *int
	// ClearDepartment and ClearUser unset the department and the user.
	ClearDepartment, ClearUser bool
	Active                     *bool
}

// DepartmentInput creates or changes a department; nil fields stay.
type DepartmentInput struct {
	Name *string
	// ManagerID is an employee, of this department or another.
	ManagerID    *int
	ClearManager bool
}

// CategoryInput creates or changes an explanation category; nil fields stay.
type CategoryInput struct {
	Name, Description *string
	Active            *bool
}

// trimmed is *p without surrounding space (nil stays nil).
func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	s := strings.TrimSpace(*p)
	return &s
}

// check runs a schema validator on v, naming field when it fails.
func check(field string, v *string, validate func(string) error) error {
	if v == nil || validate == nil {
		return nil
	}
	if err := validate(*v); err != nil {
		return errs.Invalid(field, "%v", err)
	}
	return nil
}

func (in *EmployeeInput) normalize() {
	in.Number, in.Name, in.Email, in.Phone = trimmed(in.Number), trimmed(in.Name), trimmed(in.Email), trimmed(in.Phone)
}

func (in EmployeeInput) validate() error {
	for _, c := range []struct {
		field string
		v     *string
		fn    func(string) error
	}{
		{"input.number", in.Number, employee.NumberValidator},
		{"input.name", in.Name, employee.NameValidator},
		{"input.email", in.Email, employee.EmailValidator},
		{"input.phone", in.Phone, employee.PhoneValidator},
	} {
		if err := check(c.field, c.v, c.fn); err != nil {
			return err
		}
	}
	if in.DepartmentID != nil && in.ClearDepartment {
		return errs.Invalid("input.clearDepartment", "cannot be given with departmentID")
	}
	if in.UserID != nil && in.ClearUser {
		return errs.Invalid("input.clearUser", "cannot be given with userID")
	}
	return nil
}

// mayWriteDirectory refuses a viewer who may not change the directory
// before any of their input is looked at (or looked up).
func mayWriteDirectory(ctx context.Context, c *ent.EmployeeClient) error {
	return employee.Policy.EvalMutation(ctx, c.Create().Mutation())
}

// CreateEmployee adds an employee (admins).
func (s *Service) CreateEmployee(ctx context.Context, in EmployeeInput) (*ent.Employee, error) {
	in.normalize()
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Employee, error) {
		if err := mayWriteDirectory(ctx, tx.Employee); err != nil {
			return nil, err
		}
		if in.Number == nil || in.Name == nil {
			return nil, errs.Invalid("input", "number and name are required")
		}
		if err := s.checkEmployee(ctx, tx, 0, in); err != nil {
			return nil, err
		}
		c := tx.Employee.Create().SetNumber(*in.Number).SetName(*in.Name).SetNillableActive(in.Active).
			SetNillableDepartmentID(in.DepartmentID).SetNillableUserID(in.UserID)
		if in.Email != nil {
			c.SetEmail(*in.Email)
		}
		if in.Phone != nil {
			c.SetPhone(*in.Phone)
		}
		return c.Save(ctx)
	})
}

// UpdateEmployee changes an employee (admins).
func (s *Service) UpdateEmployee(ctx context.Context, id int, in EmployeeInput) (*ent.Employee, error) {
	in.normalize()
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Employee, error) {
		if err := mayWriteDirectory(ctx, tx.Employee); err != nil {
			return nil, err
		}
		if _, err := tx.Employee.Get(ctx, id); err != nil {
			return nil, byID(err, "employee")
		}
		if err := s.checkEmployee(ctx, tx, id, in); err != nil {
			return nil, err
		}
		u := tx.Employee.UpdateOneID(id).SetNillableNumber(in.Number).SetNillableName(in.Name).
			SetNillableActive(in.Active).SetNillableDepartmentID(in.DepartmentID).SetNillableUserID(in.UserID)
		if in.Email != nil {
			u.SetEmail(*in.Email)
		}
		if in.Phone != nil {
			u.SetPhone(*in.Phone)
		}
		if in.ClearDepartment {
			u.ClearDepartmentID()
		}
		if in.ClearUser {
			u.ClearUserID()
		}
		return u.Save(ctx)
	})
}

// checkEmployee checks in against the directory: the number free, the
// department and the user existing, the user linked to no other employee.
// id is the employee being changed (0: a new one).
func (s *Service) checkEmployee(ctx context.Context, tx *ent.Tx, id int, in EmployeeInput) error {
	if err := in.validate(); err != nil {
		return err
	}
	if in.Number != nil {
		other, err := tx.Employee.Query().Where(employee.Number(*in.Number), employee.IDNEQ(id)).First(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		if other != nil {
			return &errs.Error{Code: errs.Conflict, Field: "input.number", Message: fmt.Sprintf("employee number %s is already %s's", other.Number, other.Name)}
		}
	}
	if in.DepartmentID != nil {
		ok, err := tx.Department.Query().Where(department.ID(*in.DepartmentID)).Exist(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Invalid("input.departmentID", "no department with this id")
		}
	}
	if in.UserID != nil {
		return userFree(ctx, tx, id, *in.UserID, "input.userID")
	}
	return nil
}

// userFree checks that user uid exists and is linked to no employee but id.
func userFree(ctx context.Context, tx *ent.Tx, id, uid int, field string) error {
	ok, err := tx.User.Query().Where(user.ID(uid)).Exist(authz.System(ctx)) // admins only get here
	if err != nil {
		return err
	}
	if !ok {
		return errs.Invalid(field, "no user with this id")
	}
	other, err := tx.Employee.Query().Where(employee.UserID(uid), employee.IDNEQ(id)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return err
	}
	if other != nil {
		return &errs.Error{Code: errs.Conflict, Field: field, Message: fmt.Sprintf("this user is already linked to employee %s (%s): one employee per user", other.Number, other.Name)}
	}
	return nil
}

// DeleteEmployee deletes an employee whom no explanation request names and
// who manages no department; one who is part of the record stays, and can
// be deactivated instead.
func (s *Service) DeleteEmployee(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		if err := mayWriteDirectory(ctx, tx.Employee); err != nil {
			return err
		}
		e, err := tx.Employee.Get(ctx, id)
		if err != nil {
			return byID(err, "employee")
		}
		sys := authz.System(ctx) // requests of tickets the viewer may not see still count
		var refs []string
		for _, r := range []struct {
			what string
			q    *ent.ExplanationRequestQuery
		}{
			{"the violator", tx.ExplanationRequest.Query().Where(explanationrequest.ViolatorID(id))},
			{"the manager", tx.ExplanationRequest.Query().Where(explanationrequest.ManagerID(id))},
			{"the auditor", tx.ExplanationRequest.Query().Where(explanationrequest.AuditorID(id))},
		} {
			n, err := r.q.Count(sys)
			if err != nil {
				return err
			}
			if n > 0 {
				refs = append(refs, fmt.Sprintf("%s of %d explanation request(s)", r.what, n))
			}
		}
		managed, err := tx.Department.Query().Where(department.ManagerID(id)).Order(ent.Asc(department.FieldName)).
			Limit(5).Select(department.FieldName).Strings(ctx)
		if err != nil {
			return err
		}
		if len(managed) > 0 {
			refs = append(refs, fmt.Sprintf("the manager of the department(s) %s", quoteAll(managed)))
		}
		if len(refs) > 0 {
			return &errs.Error{Code: errs.Conflict, Field: "id", Message: fmt.Sprintf(
				"employee %s (%s) is %s and cannot be deleted: deactivate them instead (active: false)", e.Number, e.Name, strings.Join(refs, ", "))}
		}
		return tx.Employee.DeleteOneID(id).Exec(ctx)
	})
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// EmployeeFilter narrows the employees listed; nil fields do not.
type EmployeeFilter struct {
	// Query matches the number, the name or the email, ignoring case.
	Query        *string
	DepartmentID *int
	Active       *bool
}

// Employees is the query of the employees f selects (read under the
// directory's policy).
func (s *Service) Employees(f EmployeeFilter) (*ent.EmployeeQuery, error) {
	q := s.Client.Employee.Query()
	if f.Query != nil {
		text := strings.TrimSpace(*f.Query)
		if utf8.RuneCountInString(text) > MaxQueryRunes {
			return nil, errs.Invalid("query", "must be at most %d characters", MaxQueryRunes)
		}
		if text != "" {
			q.Where(employee.Or(employee.NumberContainsFold(text), employee.NameContainsFold(text), employee.EmailContainsFold(text)))
		}
	}
	if f.DepartmentID != nil {
		q.Where(employee.DepartmentID(*f.DepartmentID))
	}
	if f.Active != nil {
		q.Where(employee.Active(*f.Active))
	}
	return q, nil
}

// Departments is the query of the departments whose name contains query
// (ignoring case; nil: all).
func (s *Service) Departments(query *string) (*ent.DepartmentQuery, error) {
	q := s.Client.Department.Query()
	if query != nil {
		text := strings.TrimSpace(*query)
		if utf8.RuneCountInString(text) > MaxQueryRunes {
			return nil, errs.Invalid("query", "must be at most %d characters", MaxQueryRunes)
		}
		if text != "" {
			q.Where(department.NameContainsFold(text))
		}
	}
	return q, nil
}

// CreateDepartment adds a department (admins).
func (s *Service) CreateDepartment(ctx context.Context, in DepartmentInput) (*ent.Department, error) {
	in.Name = trimmed(in.Name)
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Department, error) {
		if err := mayWriteDirectory(ctx, tx.Employee); err != nil {
			return nil, err
		}
		if in.Name == nil {
			return nil, errs.Invalid("input.name", "is required")
		}
		if err := checkDepartment(ctx, tx, 0, in); err != nil {
			return nil, err
		}
		return tx.Department.Create().SetName(*in.Name).SetNillableManagerID(in.ManagerID).Save(ctx)
	})
}

// UpdateDepartment changes a department (admins).
func (s *Service) UpdateDepartment(ctx context.Context, id int, in DepartmentInput) (*ent.Department, error) {
	in.Name = trimmed(in.Name)
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Department, error) {
		if err := mayWriteDirectory(ctx, tx.Employee); err != nil {
			return nil, err
		}
		if _, err := tx.Department.Get(ctx, id); err != nil {
			return nil, byID(err, "department")
		}
		if err := checkDepartment(ctx, tx, id, in); err != nil {
			return nil, err
		}
		u := tx.Department.UpdateOneID(id).SetNillableName(in.Name).SetNillableManagerID(in.ManagerID)
		if in.ClearManager {
			u.ClearManagerID()
		}
		return u.Save(ctx)
	})
}

func checkDepartment(ctx context.Context, tx *ent.Tx, id int, in DepartmentInput) error {
	if err := check("input.name", in.Name, department.NameValidator); err != nil {
		return err
	}
	if in.ManagerID != nil && in.ClearManager {
		return errs.Invalid("input.clearManager", "cannot be given with managerID")
	}
	if in.Name != nil {
		ok, err := tx.Department.Query().Where(department.Name(*in.Name), department.IDNEQ(id)).Exist(ctx)
		if err != nil {
			return err
		}
		if ok {
			return &errs.Error{Code: errs.Conflict, Field: "input.name", Message: fmt.Sprintf("a department named %q exists already", *in.Name)}
		}
	}
	if in.ManagerID != nil {
		ok, err := tx.Employee.Query().Where(employee.ID(*in.ManagerID)).Exist(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Invalid("input.managerID", "no employee with this id")
		}
	}
	return nil
}

// DeleteDepartment deletes a department without employees (the requests
// that named it keep no department).
func (s *Service) DeleteDepartment(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		if err := mayWriteDirectory(ctx, tx.Employee); err != nil {
			return err
		}
		d, err := tx.Department.Get(ctx, id)
		if err != nil {
			return byID(err, "department")
		}
		n, err := tx.Employee.Query().Where(employee.DepartmentID(id)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return &errs.Error{Code: errs.Conflict, Field: "id", Message: fmt.Sprintf(
				"the department %q has %d employee(s) and cannot be deleted: move them to another department first", d.Name, n)}
		}
		return tx.Department.DeleteOneID(id).Exec(ctx)
	})
}

// Categories are the explanation categories by name, the inactive ones too
// when asked (at most MaxCategories).
func (s *Service) Categories(ctx context.Context, includeInactive bool) ([]*ent.ExplanationCategory, error) {
	q := s.Client.ExplanationCategory.Query().Order(ent.Asc(explanationcategory.FieldName), ent.Asc(explanationcategory.FieldID))
	if !includeInactive {
		q.Where(explanationcategory.Active(true))
	}
	return q.Limit(MaxCategories).All(ctx)
}

func (in *CategoryInput) normalize() {
	in.Name, in.Description = trimmed(in.Name), trimmed(in.Description)
}

func checkCategory(ctx context.Context, tx *ent.Tx, id int, in CategoryInput) error {
	if err := check("input.name", in.Name, explanationcategory.NameValidator); err != nil {
		return err
	}
	if err := check("input.description", in.Description, explanationcategory.DescriptionValidator); err != nil {
		return err
	}
	if in.Name != nil {
		ok, err := tx.ExplanationCategory.Query().Where(explanationcategory.Name(*in.Name), explanationcategory.IDNEQ(id)).Exist(ctx)
		if err != nil {
			return err
		}
		if ok {
			return &errs.Error{Code: errs.Conflict, Field: "input.name", Message: fmt.Sprintf("a category named %q exists already", *in.Name)}
		}
	}
	return nil
}

func mayWriteCategories(ctx context.Context, tx *ent.Tx) error {
	return explanationcategory.Policy.EvalMutation(ctx, tx.ExplanationCategory.Create().Mutation())
}

// CreateCategory adds an explanation category (admins).
func (s *Service) CreateCategory(ctx context.Context, in CategoryInput) (*ent.ExplanationCategory, error) {
	in.normalize()
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.ExplanationCategory, error) {
		if err := mayWriteCategories(ctx, tx); err != nil {
			return nil, err
		}
		if in.Name == nil {
			return nil, errs.Invalid("input.name", "is required")
		}
		if err := checkCategory(ctx, tx, 0, in); err != nil {
			return nil, err
		}
		n, err := tx.ExplanationCategory.Query().Count(ctx)
		if err != nil {
			return nil, err
		}
		if n >= MaxCategories {
			return nil, errs.New(errs.Conflict, "there are %d explanation categories already, the most there may be: delete or reuse one", n)
		}
		return tx.ExplanationCategory.Create().SetName(*in.Name).SetNillableDescription(in.Description).
			SetNillableActive(in.Active).Save(ctx)
	})
}

// UpdateCategory changes an explanation category (admins).
func (s *Service) UpdateCategory(ctx context.Context, id int, in CategoryInput) (*ent.ExplanationCategory, error) {
	in.normalize()
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.ExplanationCategory, error) {
		if err := mayWriteCategories(ctx, tx); err != nil {
			return nil, err
		}
		if _, err := tx.ExplanationCategory.Get(ctx, id); err != nil {
			return nil, byID(err, "explanation category")
		}
		if err := checkCategory(ctx, tx, id, in); err != nil {
			return nil, err
		}
		return tx.ExplanationCategory.UpdateOneID(id).SetNillableName(in.Name).SetNillableDescription(in.Description).
			SetNillableActive(in.Active).Save(ctx)
	})
}

// DeleteCategory deletes an explanation category no request uses; one in
// use can be deactivated instead.
func (s *Service) DeleteCategory(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		if err := mayWriteCategories(ctx, tx); err != nil {
			return err
		}
		c, err := tx.ExplanationCategory.Get(ctx, id)
		if err != nil {
			return byID(err, "explanation category")
		}
		n, err := tx.ExplanationRequest.Query().Where(explanationrequest.CategoryID(id)).Count(authz.System(ctx))
		if err != nil {
			return err
		}
		if n > 0 {
			return &errs.Error{Code: errs.Conflict, Field: "id", Message: fmt.Sprintf(
				"the category %q is used by %d explanation request(s) and cannot be deleted: deactivate it instead (active: false)", c.Name, n)}
		}
		return tx.ExplanationCategory.DeleteOneID(id).Exec(ctx)
	})
}

// byID is the error of reading what an update or deletion names by id: a
// missing one is NOT_FOUND naming the id argument.
func byID(err error, what string) error {
	if ent.IsNotFound(err) {
		return &errs.Error{Code: errs.NotFound, Field: "id", Message: "no " + what + " with this id"}
	}
	return err
}
