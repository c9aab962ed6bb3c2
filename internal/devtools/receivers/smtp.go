package receivers

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPTLS is how the SMTP receiver offers TLS.
type SMTPTLS string

// The receiver's TLS modes.
const (
	SMTPNoTLS    SMTPTLS = ""         // plain text, STARTTLS not offered
	SMTPStartTLS SMTPTLS = "STARTTLS" // plain text, STARTTLS offered
	SMTPImplicit SMTPTLS = "IMPLICIT" // TLS from the first byte (SMTPS)
)

// maxMessageBytes bounds one received message.
const maxMessageBytes = 4 << 20

// SMTPOptions configure StartSMTP.
type SMTPOptions struct {
	TLS SMTPTLS
	// Username and Password, when set, make AUTH PLAIN mandatory: MAIL
	// FROM without it is refused (530), a wrong password too (535).
	Username, Password string
	// RejectRcpt, when set, refuses RCPT TO with this SMTP code (e.g. 550
	// for a permanent failure, 451 for a temporary one).
	RejectRcpt int
}

// Mail is one message the SMTP receiver accepted.
type Mail struct {
	From    string   // envelope MAIL FROM
	To      []string // envelope RCPT TO
	Subject string   // decoded
	Header  mail.Header
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	Raw     []byte
	User    string // the authenticated user, if any
	TLS     bool   // the session was encrypted
}

// SMTP is a running SMTP receiver on 127.0.0.1.
type SMTP struct {
	Addr string // host:port
	Host string // "127.0.0.1"
	Port int

	opts SMTPOptions
	pool *x509.CertPool
	log  log[Mail]
}

// StartSMTP starts an SMTP receiver stopped when t ends.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTP {
	t.Helper()
	s := &SMTP{opts: o}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = o.TLS == SMTPNoTLS // so a plain-text AUTH can be tested at all
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = 50
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.TLS != SMTPNoTLS {
		cert, pool := selfSigned(t)
		s.pool = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		switch o.TLS {
		case SMTPStartTLS:
			srv.TLSConfig = cfg
		case SMTPImplicit:
			l = tls.NewListener(l, cfg)
		default:
			t.Fatalf("receivers: unknown SMTP TLS mode %q", o.TLS)
		}
	}
	a := l.Addr().(*net.TCPAddr)
	s.Addr, s.Host, s.Port = a.String(), a.IP.String(), a.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = l.Close() // Close misses a listener Serve has not registered yet
		<-done
	})
	return s
}

// CertPool trusts the receiver's self-signed certificate (nil without TLS).
func (s *SMTP) CertPool() *x509.CertPool { return s.pool }

// Messages returns the messages received so far.
func (s *SMTP) Messages() []Mail { return s.log.all() }

// WaitFor returns the messages once at least n arrived, failing t after timeout.
func (s *SMTP) WaitFor(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	return s.log.wait(t, n, timeout, "mails")
}

// Keys counts the messages per X-Socdesk-Idempotency-Key header.
func (s *SMTP) Keys() map[string]int {
	out := map[string]int{}
	for _, m := range s.Messages() {
		out[m.Header.Get("X-Socdesk-Idempotency-Key")]++
	}
	return out
}

// Reset forgets the messages received.
func (s *SMTP) Reset() { s.log.reset() }

type session struct {
	s    *SMTP
	tls  bool
	user string
	from string
	to   []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.s.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.Username || pass != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return errAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if c := ss.s.opts.RejectRcpt; c != 0 {
		return &smtp.SMTPError{Code: c, Message: "recipient rejected by test receiver"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	m.From, m.To, m.User, m.TLS = ss.from, append([]string(nil), ss.to...), ss.user, ss.tls
	ss.s.log.add(m)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// parseMail reads headers and the text and HTML parts (one level of
// multipart nesting or more).
func parseMail(raw []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	m := Mail{Header: msg.Header, Raw: raw}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.Subject = msg.Header.Get("Subject")
	}
	err = readPart(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	return m, err
}

func readPart(m *Mail, ctype, cte string, body io.Reader, depth int) error {
	if ctype == "" {
		ctype = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth > 5 {
			return errors.New("multipart nested too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readPart(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s part: %w", mt, err)
	}
	switch mt {
	case "text/plain":
		m.Text += string(b)
	case "text/html":
		m.HTML += string(b)
	}
	return nil
}

// crlfStripper drops line breaks from base64 bodies.
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}
