package notify

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"socdesk/ent"
	"socdesk/ent/channel"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/channels"
	"socdesk/internal/errs"
	"socdesk/internal/runes"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
)

// Bounds of channel and preference input.
const (
	MaxSecretBytes  = 4096
	MaxPreferences  = 100
	TestSendTimeout = 15 * time.Second
)

// ChannelInput creates or changes a channel (GraphQL CreateChannelInput and
// UpdateChannelInput); nil fields stay as they are on update.
type ChannelInput struct {
	Name          *string
	Type          schematype.ChannelType
	Enabled       *bool
	Notifications *bool
	Settings      *channels.Settings
	// Secret replaces the secret; "" removes it.
	Secret *string
}

func validateChannel(t schematype.ChannelType, in ChannelInput) error {
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return errs.Invalid("name", "must not be empty")
	}
	if in.Secret != nil && len(*in.Secret) > MaxSecretBytes {
		return errs.Invalid("secret", "must be at most %d bytes", MaxSecretBytes)
	}
	if in.Settings != nil {
		return in.Settings.Validate(t)
	}
	return nil
}

// needsSecret refuses an SMS gateway whose auth header would carry no
// secret: every message through it would fail.
func needsSecret(set channels.Settings, hasSecret bool) error {
	if set.SMS != nil && set.SMS.AuthHeader != "" && !hasSecret {
		return errs.Invalid("secret", "is required when sms.authHeader is set (it is the header's value)")
	}
	return nil
}

// CreateChannel adds a channel (admins, by the channels' policy).
func (s *Service) CreateChannel(ctx context.Context, in ChannelInput) (*ent.Channel, error) {
	if in.Name == nil || in.Settings == nil {
		return nil, errs.Invalid("input", "name and settings are required")
	}
	if err := validateChannel(in.Type, in); err != nil {
		return nil, err
	}
	if err := needsSecret(*in.Settings, in.Secret != nil && *in.Secret != ""); err != nil {
		return nil, err
	}
	c := s.Client.Channel.Create().SetName(strings.TrimSpace(*in.Name)).SetType(in.Type).SetSettings(*in.Settings).
		SetNillableEnabled(in.Enabled).SetNillableNotifications(in.Notifications)
	if in.Secret != nil && *in.Secret != "" {
		c.SetSecret(*in.Secret)
	}
	return c.Save(ctx)
}

// UpdateChannel changes a channel; a disabled channel sends nothing (its
// pending deliveries fail, saying so).
func (s *Service) UpdateChannel(ctx context.Context, id int, in ChannelInput) (*ent.Channel, error) {
	old, err := s.Client.Channel.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := validateChannel(old.Type, in); err != nil {
		return nil, err
	}
	settings, hasSecret := old.Settings, old.Secret != ""
	if in.Settings != nil {
		settings = *in.Settings
	}
	if in.Secret != nil {
		hasSecret = *in.Secret != ""
	}
	if err := needsSecret(settings, hasSecret); err != nil {
		return nil, err
	}
	u := s.Client.Channel.UpdateOne(old).SetNillableEnabled(in.Enabled).SetNillableNotifications(in.Notifications)
	if in.Name != nil {
		u.SetName(strings.TrimSpace(*in.Name))
	}
	if in.Settings != nil {
		u.SetSettings(*in.Settings)
	}
	if in.Secret != nil {
		if *in.Secret == "" {
			u.ClearSecret()
		} else {
			u.SetSecret(*in.Secret)
		}
	}
	return u.Save(ctx)
}

// TestResult is the outcome of a channel test.
type TestResult struct {
	OK         bool
	Error      *string
	DurationMs int
}

// TestChannel sends a test message through channel id now, to the viewer
// or to userID (a webhook to its URL), and says how it went. Only those who
// may change the channel test it.
func (s *Service) TestChannel(ctx context.Context, id int, userID *int) (*TestResult, error) {
	if err := channel.Policy.EvalMutation(ctx, s.Client.Channel.UpdateOneID(id).Mutation()); err != nil {
		return nil, err
	}
	c, err := s.Client.Channel.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	uid := viewer.FromContext(ctx).UserID
	if userID != nil {
		uid = *userID
	}
	u, err := s.Client.User.Get(authz.System(ctx), uid)
	if ent.IsNotFound(err) {
		return nil, errs.Invalid("userID", "no user with this id")
	} else if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, TestSendTimeout)
	defer cancel()
	start := time.Now()
	err = s.Sender.Send(ctx, c.Type, c.Settings, c.Secret,
		channels.Recipient{UserID: u.ID, Name: u.DisplayName, Login: u.Login, Email: u.Email, Phone: u.Phone, Messenger: u.Messenger},
		channels.Message{
			IdempotencyKey: fmt.Sprintf("socdesk-test-%d-%d", c.ID, start.UnixNano()), Event: "test",
			Subject: "socdesk test message", Text: "This is a test of the socdesk channel " + c.Name + ".", Link: s.PublicURL,
			HTML: "<p>This is a test of the socdesk channel <b>" + html.EscapeString(c.Name) + "</b>.</p>",
			Data: map[string]any{"channel": c.Name},
		})
	r := &TestResult{OK: err == nil, DurationMs: int(time.Since(start).Milliseconds())}
	if err != nil {
		msg := runes.Cut(err.Error(), maxErrorRunes)
		r.Error = &msg
	}
	return r, nil
}

// Retry sends a FAILED delivery again (admins, by the deliveries' policy),
// with its idempotency key unchanged.
func (s *Service) Retry(ctx context.Context, id int) (*ent.Delivery, error) {
	var d *ent.Delivery
	err := txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		old, err := tx.Delivery.Get(ctx, id)
		if err != nil {
			return err
		}
		if old.Status != delivery.StatusFAILED {
			return errs.Invalid("id", "only a FAILED delivery is retried; this one is %s", old.Status)
		}
		if d, err = tx.Delivery.UpdateOne(old).SetStatus(delivery.StatusPENDING).Save(ctx); err != nil {
			return err
		}
		_, err = s.Jobs.Insert(ctx, DeliverArgs{DeliveryID: d.ID}, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d.Unwrap(), nil // out of the committed tx, so its edges resolve
}

// SettingsInput is a user's contact and preferences (GraphQL
// NotificationSettingsInput).
type SettingsInput struct {
	Phone       *string
	Messenger   *string
	Preferences []schematype.NotificationPreference
}

// UpdateSettings sets the viewer's (or, for admins, userID's) phone,
// messenger handle and channel preferences.
func (s *Service) UpdateSettings(ctx context.Context, userID *int, in SettingsInput) (*ent.User, error) {
	v := viewer.FromContext(ctx)
	uid := v.UserID
	if userID != nil && *userID != uid {
		// Another's settings: whoever may change that user (admins).
		if err := user.Policy.EvalMutation(ctx, s.Client.User.UpdateOneID(*userID).Mutation()); err != nil {
			return nil, err
		}
		uid = *userID
	}
	sys := authz.System(ctx) // a user's own settings are theirs to change
	if len(in.Preferences) > MaxPreferences {
		return nil, errs.Invalid("preferences", "at most %d, not %d", MaxPreferences, len(in.Preferences))
	}
	var err error
	var phone, handle string
	if in.Phone != nil && *in.Phone != "" {
		if phone, err = channels.NormalizePhone(*in.Phone); err != nil {
			return nil, errs.Invalid("phone", "%v", err)
		}
	}
	if in.Messenger != nil && *in.Messenger != "" {
		handle = strings.TrimSpace(*in.Messenger)
		if err := channels.ValidMessenger(handle); err != nil {
			return nil, errs.Invalid("messenger", "%v", err)
		}
	}
	var u *ent.User
	err = txn.Run(sys, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		old, err := tx.User.Get(ctx, uid)
		if ent.IsNotFound(err) {
			return errs.Invalid("userID", "no user with this id")
		} else if err != nil {
			return err
		}
		prefs := append([]schematype.NotificationPreference(nil), old.NotificationPreferences...)
		for i, p := range in.Preferences {
			field := fmt.Sprintf("preferences[%d].channelID", i)
			if ok, err := tx.Channel.Query().Where(channel.ID(p.ChannelID)).Exist(ctx); err != nil {
				return err
			} else if !ok {
				return errs.Invalid(field, "no channel with this id")
			}
			found := false
			for j := range prefs {
				if prefs[j].ChannelID == p.ChannelID {
					prefs[j].Mode, found = p.Mode, true
				}
			}
			if !found {
				prefs = append(prefs, p)
			}
		}
		up := tx.User.UpdateOne(old).SetNotificationPreferences(prefs)
		// Empty removes (the schema's pattern refuses an empty phone).
		switch {
		case in.Phone != nil && phone == "":
			up.ClearPhone()
		case in.Phone != nil:
			up.SetPhone(phone)
		}
		switch {
		case in.Messenger != nil && handle == "":
			up.ClearMessenger()
		case in.Messenger != nil:
			up.SetMessenger(handle)
		}
		u, err = up.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Client.User.Get(ctx, u.ID) // as the viewer may see it
}

// Administers reports whether the viewer may change channel id, and so see
// its settings (the channels' policy: admins).
func (s *Service) Administers(ctx context.Context, id int) bool {
	return channel.Policy.EvalMutation(ctx, s.Client.Channel.UpdateOneID(id).Mutation()) == nil
}

// Deliveries narrows q (read under the deliveries' policy) to the given
// status, kind, channel type, recipient and ticket, each when given.
func Deliveries(q *ent.DeliveryQuery, status *delivery.Status, kind *delivery.Kind, t *schematype.ChannelType, recipient, ticketID *int) *ent.DeliveryQuery {
	if ticketID != nil {
		q.Where(delivery.TicketID(*ticketID))
	}
	if status != nil {
		q.Where(delivery.StatusEQ(*status))
	}
	if kind != nil {
		q.Where(delivery.KindEQ(*kind))
	}
	if t != nil {
		q.Where(delivery.ChannelTypeEQ(*t))
	}
	if recipient != nil {
		q.Where(delivery.RecipientID(*recipient))
	}
	return q
}
