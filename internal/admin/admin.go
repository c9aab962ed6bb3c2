// Package admin changes socdesk's reference data and people: categories,
// sites, tags and users, each change in one transaction (package txn). It
// keeps at least one administrator, and it knows which writes change who
// may see what (see WatchRights), so that the sessions of the users
// affected are checked again at once, on every replica.
package admin

import (
	"context"
	"fmt"
	"slices"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/memo"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketapprover"
	"socdesk/ent/ticketassignee"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/txn"
)

// Service makes the administrators' changes. Who may make them is the
// policies' to say (package authz): only administrators.
type Service struct {
	Client *ent.Client
	// Dialect of the database; the administrators' rows are locked on
	// PostgreSQL (SQLite serializes writers itself).
	Dialect string
}

// CreateCategory adds a category.
func (s *Service) CreateCategory(ctx context.Context, in ent.CreateCategoryInput) (*ent.Category, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Category, error) {
		return tx.Category.Create().SetInput(in).Save(ctx)
	})
}

// UpdateCategory changes a category.
func (s *Service) UpdateCategory(ctx context.Context, id int, in ent.UpdateCategoryInput) (*ent.Category, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Category, error) {
		return tx.Category.UpdateOneID(id).SetInput(in).Save(ctx)
	})
}

// DeleteCategory deletes a category.
func (s *Service) DeleteCategory(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		return tx.Category.DeleteOneID(id).Exec(ctx)
	})
}

// CreateSite adds a site.
func (s *Service) CreateSite(ctx context.Context, in ent.CreateSiteInput) (*ent.Site, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Site, error) {
		return tx.Site.Create().SetInput(in).Save(ctx)
	})
}

// UpdateSite changes a site.
func (s *Service) UpdateSite(ctx context.Context, id int, in ent.UpdateSiteInput) (*ent.Site, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Site, error) {
		return tx.Site.UpdateOneID(id).SetInput(in).Save(ctx)
	})
}

// DeleteSite deletes a site; its users lose it (and their sessions are
// checked again, see WatchRights).
func (s *Service) DeleteSite(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		return tx.Site.DeleteOneID(id).Exec(ctx)
	})
}

// CreateTag adds a tag.
func (s *Service) CreateTag(ctx context.Context, in ent.CreateTagInput) (*ent.Tag, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Tag, error) {
		return tx.Tag.Create().SetInput(in).Save(ctx)
	})
}

// UpdateTag changes a tag.
func (s *Service) UpdateTag(ctx context.Context, id int, in ent.UpdateTagInput) (*ent.Tag, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.Tag, error) {
		return tx.Tag.UpdateOneID(id).SetInput(in).Save(ctx)
	})
}

// DeleteTag deletes a tag.
func (s *Service) DeleteTag(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		return tx.Tag.DeleteOneID(id).Exec(ctx)
	})
}

// CreateUser adds a user.
func (s *Service) CreateUser(ctx context.Context, in ent.CreateUserInput) (*ent.User, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.User, error) {
		c := tx.User.Create().SetInput(in)
		if in.Role != nil && *in.Role == user.RoleSERVICE {
			if err := user.Policy.EvalMutation(ctx, c.Mutation()); err != nil {
				return nil, err
			}
			if err := serviceHoldsNothing(len(in.Permissions) > 0, len(in.SiteIDs) > 0); err != nil {
				return nil, err
			}
		}
		return c.Save(ctx)
	})
}

// serviceHoldsNothing refuses permissions and sites for a service account:
// it ingests through the detection rules that name it and reads only what
// it registered (package authz), so they would mean nothing.
func serviceHoldsNothing(permissions, sites bool) error {
	switch {
	case permissions:
		return errs.Invalid("input.permissions", "a service account holds no permissions: name it in a detection rule's ingesterIDs")
	case sites:
		return errs.Invalid("input.siteIDs", "a service account has no sites: it reads only the tickets it registered")
	}
	return nil
}

// UpdateUser changes a user. It refuses to demote the last administrator.
func (s *Service) UpdateUser(ctx context.Context, id int, in ent.UpdateUserInput) (*ent.User, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.User, error) {
		upd := tx.User.UpdateOneID(id).SetInput(in)
		if in.Role != nil && *in.Role == user.RoleSERVICE {
			if err := user.Policy.EvalMutation(ctx, upd.Mutation()); err != nil {
				return nil, err
			}
			if err := serviceHoldsNothing(len(in.Permissions)+len(in.AppendPermissions) > 0, len(in.AddSiteIDs) > 0); err != nil {
				return nil, err
			}
			upd.ClearSites().SetPermissions([]schematype.Permission{})
		}
		if in.Role != nil && *in.Role != user.RoleADMIN {
			if err := s.keepAnAdmin(ctx, tx, upd.Mutation(), id, "demoted"); err != nil {
				return nil, err
			}
		}
		return upd.Save(ctx)
	})
}

// DeleteUser deletes a user who has no part in any ticket's record. One who
// is assigned, approves, registered a ticket, wrote a memo, watches one or
// acted in any history stays: deleting them would change tickets without a
// trace and blank the record of who did what. The last administrator stays
// too.
func (s *Service) DeleteUser(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		// Only those who may change users learn what a user takes part in.
		if err := s.keepAnAdmin(ctx, tx, tx.User.UpdateOneID(id).Mutation(), id, "deleted"); err != nil {
			return err
		}
		sys := authz.System(ctx) // references the viewer may not see still count
		for what, exists := range map[string]func(context.Context) (bool, error){
			"is assigned to tickets":    tx.TicketAssignee.Query().Where(ticketassignee.UserID(id)).Exist,
			"approves tickets":          tx.TicketApprover.Query().Where(ticketapprover.UserID(id)).Exist,
			"registered tickets":        tx.Ticket.Query().Where(ticket.RegisteredByID(id)).Exist,
			"wrote memos":               tx.Memo.Query().Where(memo.AuthorID(id)).Exist,
			"watches tickets":           tx.TicketWatcher.Query().Where(ticketwatcher.UserID(id)).Exist,
			"appears in ticket history": tx.TicketEvent.Query().Where(ticketevent.ActorID(id)).Exist,
		} {
			ok, err := exists(sys)
			if err != nil {
				return err
			}
			if ok {
				return errs.New(errs.Conflict, "the user %s: they are part of the tickets' record and cannot be deleted (remove their permissions and tokens instead)", what)
			}
		}
		return tx.User.DeleteOneID(id).Exec(ctx)
	})
}

// keepAnAdmin refuses, with CONFLICT, a change m that stops the user id
// being an administrator (how: "demoted", "deleted") when no other
// administrator would be left: no replica starts without one. Only those
// who may make m learn that. On PostgreSQL it locks the administrators'
// rows, in id order, until the transaction ends: of two such changes at
// once the second waits and then sees the first.
func (s *Service) keepAnAdmin(ctx context.Context, tx *ent.Tx, m ent.Mutation, id int, how string) error {
	if err := user.Policy.EvalMutation(ctx, m); err != nil {
		return err
	}
	q := tx.User.Query().Where(user.RoleEQ(user.RoleADMIN)).Order(ent.Asc(user.FieldID))
	if s.Dialect == dialect.Postgres {
		q.ForUpdate()
	}
	admins, err := q.IDs(authz.System(ctx))
	if err != nil {
		return err
	}
	if slices.Contains(admins, id) && len(admins) == 1 {
		return errs.New(errs.Conflict, "this is the last administrator and cannot be %s: make another user an administrator first", how)
	}
	return nil
}

// GrantAdmin makes the user with login an administrator, writing the
// database directly (the system context): the way back for a deployment
// left without one (`socdesk user grant-admin`). It reports whether the
// user was one already, and the login as stored (logins are folded to lower case).
func GrantAdmin(ctx context.Context, client *ent.Client, login string) (stored string, already bool, err error) {
	ctx = authz.System(ctx)
	err = txn.Run(ctx, client, func(ctx context.Context, tx *ent.Tx) error {
		u, err := tx.User.Query().Where(user.Login(login)).Only(ctx)
		if ent.IsNotFound(err) { // logins are told apart regardless of case
			u, err = tx.User.Query().Where(user.LoginEqualFold(login)).Only(ctx)
		}
		if ent.IsNotFound(err) {
			return fmt.Errorf("no user with login %q", login)
		} else if err != nil {
			return err
		}
		stored = u.Login
		if already = u.Role == user.RoleADMIN; already {
			return nil
		}
		return tx.User.UpdateOne(u).SetRole(user.RoleADMIN).Exec(ctx)
	})
	return stored, already, err
}
