package schema

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"entgo.io/ent"

	gen "socdesk/ent"
	"socdesk/ent/hook"
	"socdesk/ent/user"

	"socdesk/internal/authz"
	"socdesk/internal/errs"
)

// FoldLogin is a login as stored and looked up: logins ignore case, so that
// "Ana" and "ana" are one user.
func FoldLogin(login string) string { return strings.ToLower(login) }

// FoldLoginHook stores every login folded, whoever writes it, and answers a
// login taken by another user (in any case) as a CONFLICT on input.login
// before the unique index would refuse it without saying which field.
func FoldLoginHook() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.UserFunc(func(ctx context.Context, m *gen.UserMutation) (ent.Value, error) {
			login, ok := m.Login()
			if !ok {
				return next.Mutate(ctx, m)
			}
			login = FoldLogin(login)
			m.SetLogin(login)
			if m.Op().Is(ent.OpCreate | ent.OpUpdateOne) {
				q := m.Client().User.Query().Where(user.Login(login))
				if id, ok := m.ID(); ok {
					q.Where(user.IDNEQ(id))
				}
				// Uniqueness is global, whoever the writer may see.
				taken, err := q.Exist(authz.System(ctx))
				if err != nil {
					return nil, err
				}
				if taken {
					return nil, &errs.Error{Code: errs.Conflict, Field: "input.login",
						Message: fmt.Sprintf("the login %q is taken (logins ignore case)", login)}
				}
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate|ent.OpUpdate|ent.OpUpdateOne)
}

// MaxEmailLength is the longest address SMTP carries (RFC 5321's path limit).
const MaxEmailLength = 254

// emailAddress validates a user's email: empty (none), or a bare address
// such as ana@example.org, no display name, no angle brackets.
func emailAddress(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxEmailLength {
		return fmt.Errorf("must be at most %d bytes", MaxEmailLength)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return errors.New("must be a bare email address such as ana@example.org")
	}
	return nil
}
