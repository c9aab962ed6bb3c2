package schematype

import (
	"fmt"
	"io"
	"strconv"
)

// NotificationPreference is how a user hears through one channel.
type NotificationPreference struct {
	ChannelID int              `json:"channelId"`
	Mode      NotificationMode `json:"mode"`
}

// NotificationMode is how a user hears through a channel.
type NotificationMode string

// The modes: a message per change (the default), an hourly or a daily
// digest instead, or nothing.
const (
	ModeImmediate NotificationMode = "IMMEDIATE"
	ModeHourly    NotificationMode = "HOURLY"
	ModeDaily     NotificationMode = "DAILY"
	ModeMuted     NotificationMode = "MUTED"
)

// NotificationModes lists every mode.
var NotificationModes = []NotificationMode{ModeImmediate, ModeHourly, ModeDaily, ModeMuted}

// MarshalGQL implements graphql.Marshaler.
func (m NotificationMode) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(m))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (m *NotificationMode) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	for _, c := range NotificationModes {
		if string(c) == s {
			*m = c
			return nil
		}
	}
	return fmt.Errorf("%v is not a valid NotificationMode", v)
}

// ChannelType is the kind of a channel, shared by channels and their
// deliveries.
type ChannelType string

// The channel types.
const (
	ChannelEmail     ChannelType = "EMAIL"
	ChannelWebhook   ChannelType = "WEBHOOK"
	ChannelSMS       ChannelType = "SMS"
	ChannelMessenger ChannelType = "MESSENGER"
)

// ChannelTypes lists every channel type.
var ChannelTypes = []ChannelType{ChannelEmail, ChannelWebhook, ChannelSMS, ChannelMessenger}

// Values lists the channel types for ent's enum.
func (ChannelType) Values() []string {
	out := make([]string, len(ChannelTypes))
	for i, t := range ChannelTypes {
		out[i] = string(t)
	}
	return out
}

// MarshalGQL implements graphql.Marshaler.
func (t ChannelType) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (t *ChannelType) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	for _, c := range ChannelTypes {
		if string(c) == s {
			*t = c
			return nil
		}
	}
	return fmt.Errorf("%v is not a valid ChannelType", v)
}
