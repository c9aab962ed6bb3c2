package channels_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"socdesk/internal/channels"
	"socdesk/internal/devtools/receivers"
)

const wait = 10 * time.Second

func emailSender(r *receivers.SMTP) *channels.Sender {
	return &channels.Sender{SMTPTimeout: 10 * time.Second, TLSConfig: &tls.Config{RootCAs: r.CertPool()}}
}

func emailSettings(r *receivers.SMTP, mode, user string) channels.Settings {
	return channels.Settings{Email: &channels.EmailSettings{
		Host: r.Host, Port: r.Port, TLS: mode, Username: user, From: "SOC Desk <soc@example.com>",
	}}
}

var alice = channels.Recipient{UserID: 7, Name: "Alice", Login: "alice", Email: "alice@example.com", Phone: "+49 151 1234-5678", Messenger: "alice.s"}

func message(key string) channels.Message {
	return channels.Message{
		IdempotencyKey: key, Event: "ticket.created",
		Subject: "Ticket #12: Brute force on vpn-01", Text: "A new ticket was assigned to you.",
		HTML: "<p>A new <b>ticket</b> was assigned to you.</p>", Link: "https://soc.example.com/t/12",
		Data: map[string]any{"ticketId": 12, "priority": "HIGH"},
	}
}

// TestEmailStartTLSWithAuth: over STARTTLS with SMTP AUTH, the message
// arrives encrypted and authenticated, to the recipient's address, with
// both parts and the idempotency key in Message-ID and its own header.
func TestEmailStartTLSWithAuth(t *testing.T) {
	r := receivers.StartSMTP(t, receivers.SMTPOptions{TLS: receivers.SMTPStartTLS, Username: "socdesk", Password: "pw-s3cret"})
	err := emailSender(r).Send(context.Background(), channels.Email, emailSettings(r, "", "socdesk"), "pw-s3cret", alice, message("d-42.a1"))
	if err != nil {
		t.Fatal(err)
	}
	m := r.WaitFor(t, 1, wait)[0]
	if !m.TLS || m.User != "socdesk" {
		t.Errorf("TLS %v user %q, want encrypted and authenticated", m.TLS, m.User)
	}
	if m.From != "soc@example.com" || len(m.To) != 1 || m.To[0] != "alice@example.com" {
		t.Errorf("envelope %q -> %v", m.From, m.To)
	}
	if got := m.Header.Get("Message-Id"); got != "<d-42.a1@socdesk>" {
		t.Errorf("Message-ID = %q", got)
	}
	if got := m.Header.Get("X-Socdesk-Idempotency-Key"); got != "d-42.a1" {
		t.Errorf("X-Socdesk-Idempotency-Key = %q", got)
	}
	if m.Subject != "Ticket #12: Brute force on vpn-01" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if !strings.Contains(m.Text, "A new ticket was assigned to you.") || !strings.Contains(m.Text, "https://soc.example.com/t/12") {
		t.Errorf("text part = %q", m.Text)
	}
	if !strings.Contains(m.HTML, "<b>ticket</b>") {
		t.Errorf("HTML part = %q", m.HTML)
	}
	if !strings.Contains(m.Header.Get("Content-Type"), "multipart/alternative") {
		t.Errorf("Content-Type = %q", m.Header.Get("Content-Type"))
	}
	if got := m.Header.Get("To"); got != `"Alice" <alice@example.com>` {
		t.Errorf("To header = %q", got)
	}
	if got := m.Header.Get("From"); !strings.Contains(got, "SOC Desk") || !strings.Contains(got, "<soc@example.com>") {
		t.Errorf("From header = %q", got)
	}
}

// TestEmailImplicitTLS: SMTPS from the first byte.
func TestEmailImplicitTLS(t *testing.T) {
	r := receivers.StartSMTP(t, receivers.SMTPOptions{TLS: receivers.SMTPImplicit})
	if err := emailSender(r).Send(context.Background(), channels.Email, emailSettings(r, "IMPLICIT", ""), "", alice, message("k1")); err != nil {
		t.Fatal(err)
	}
	if m := r.WaitFor(t, 1, wait)[0]; !m.TLS || m.Header.Get("X-Socdesk-Idempotency-Key") != "k1" {
		t.Fatalf("TLS %v key %q", m.TLS, m.Header.Get("X-Socdesk-Idempotency-Key"))
	}
}

// TestEmailNone: plain text to a relay that offers no TLS, when asked for.
func TestEmailNone(t *testing.T) {
	r := receivers.StartSMTP(t, receivers.SMTPOptions{})
	if err := emailSender(r).Send(context.Background(), channels.Email, emailSettings(r, "NONE", ""), "", alice, message("k1")); err != nil {
		t.Fatal(err)
	}
	if m := r.WaitFor(t, 1, wait)[0]; m.TLS {
		t.Fatal("NONE session was encrypted?")
	}
}

// TestEmailStartTLSNotOffered: STARTTLS is required; a server without it
// gets nothing, and the error is permanent (a configuration matter).
func TestEmailStartTLSNotOffered(t *testing.T) {
	r := receivers.StartSMTP(t, receivers.SMTPOptions{})
	err := emailSender(r).Send(context.Background(), channels.Email, emailSettings(r, "STARTTLS", ""), "", alice, message("k1"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a STARTTLS error", err)
	}
	if !channels.Permanent(err) {
		t.Error("missing STARTTLS should be permanent")
	}
	if n := len(r.Messages()); n != 0 {
		t.Fatalf("%d messages arrived in clear", n)
	}
}

// TestEmailUntrustedCertificate: without the receiver's CA the
// self-signed certificate is refused: verification is never skipped.
func TestEmailUntrustedCertificate(t *testing.T) {
	r := receivers.StartSMTP(t, receivers.SMTPOptions{TLS: receivers.SMTPStartTLS})
	s := &channels.Sender{SMTPTimeout: 10 * time.Second, TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	err := s.Send(context.Background(), channels.Email, emailSettings(r, "", ""), "", alice, message("k1"))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if len(r.Messages()) != 0 {
		t.Fatal("message went to an unverified server")
	}
}

// TestEmailWrongPassword: the failure is permanent and does not quote
// the password.
func TestEmailWrongPassword(t *testing.T) {
	r := receivers.StartSMTP(t, receivers.SMTPOptions{TLS: receivers.SMTPStartTLS, Username: "socdesk", Password: "right"})
	secret := "wrong-pw-Xy9"
	err := emailSender(r).Send(context.Background(), channels.Email, emailSettings(r, "", "socdesk"), secret, alice, message("k1"))
	if err == nil {
		t.Fatal("sent with a wrong password")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error quotes the secret: %v", err)
	}
	if !channels.Permanent(err) {
		t.Errorf("auth failure %v should be permanent", err)
	}
}

// TestEmailRecipientRefused: an SMTP 5xx for the recipient is permanent,
// a 4xx is not.
func TestEmailRecipientRefused(t *testing.T) {
	for _, tc := range []struct {
		code      int
		permanent bool
	}{{550, true}, {451, false}} {
		r := receivers.StartSMTP(t, receivers.SMTPOptions{TLS: receivers.SMTPStartTLS, RejectRcpt: tc.code})
		err := emailSender(r).Send(context.Background(), channels.Email, emailSettings(r, "", ""), "", alice, message("k1"))
		if err == nil {
			t.Fatalf("%d: no error", tc.code)
		}
		if got := channels.Permanent(err); got != tc.permanent {
			t.Errorf("%d: Permanent(%v) = %v", tc.code, err, got)
		}
	}
}

// TestEmailNoAddress: a recipient without an email address is a
// permanent failure, and nothing is sent.
func TestEmailNoAddress(t *testing.T) {
	r := receivers.StartSMTP(t, receivers.SMTPOptions{TLS: receivers.SMTPStartTLS})
	noMail := alice
	noMail.Email = ""
	err := emailSender(r).Send(context.Background(), channels.Email, emailSettings(r, "", ""), "", noMail, message("k1"))
	if !errors.Is(err, channels.ErrNoAddress) || !channels.Permanent(err) {
		t.Fatalf("err = %v, want permanent ErrNoAddress", err)
	}
	if len(r.Messages()) != 0 {
		t.Fatal("something was sent")
	}
}
