package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
)

// StatementCounter is a TCP proxy in front of PostgreSQL that counts the
// statements its clients run: each simple Query message and each Execute of
// the extended protocol is one statement. It also keeps the text of the
// statements (Query and Parse messages) seen while recording.
//
// A server pointed at it (DATABASE_URL with the proxy's address) tells how
// many statements a request costs, without pg_stat_statements and without
// anything in the server. It adds a hop to every statement, so the suite
// measures counts on a separate server instance, never timings.
type StatementCounter struct {
	ln     net.Listener
	target string
	count  atomic.Int64
	mu     sync.Mutex
	texts  []string
}

// NewStatementCounter listens on a free local port and forwards to target
// (host:port).
func NewStatementCounter(target string) (*StatementCounter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &StatementCounter{ln: ln, target: target}
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *StatementCounter) Addr() string { return p.ln.Addr().String() }

// Close stops accepting connections (open ones end with their clients).
func (p *StatementCounter) Close() error { return p.ln.Close() }

// Count is the number of statements run so far.
func (p *StatementCounter) Count() int64 { return p.count.Load() }

// Mark returns the statement count and the number of texts kept so far,
// for Since.
func (p *StatementCounter) Mark() (int64, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count.Load(), len(p.texts)
}

// Since returns the statements run and the texts seen since a Mark.
func (p *StatementCounter) Since(n int64, t int) (int64, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count.Load() - n, append([]string(nil), p.texts[t:]...)
}

func (p *StatementCounter) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *StatementCounter) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
	}()
	_ = p.forward(bufio.NewReaderSize(client, 64<<10), server)
}

// sslRequest and gssRequest are the codes of the untyped requests that
// precede a startup message.
const (
	sslRequest = 80877103
	gssRequest = 80877104
)

// forward copies the frontend's messages to w, counting statements.
func (p *StatementCounter) forward(r *bufio.Reader, w io.Writer) error {
	// Untyped messages first: SSL/GSS requests, then the startup message.
	for {
		msg, err := readUntyped(r)
		if err != nil {
			return err
		}
		if _, err := w.Write(msg); err != nil {
			return err
		}
		if len(msg) >= 8 {
			code := binary.BigEndian.Uint32(msg[4:8])
			if code == sslRequest || code == gssRequest {
				continue
			}
		}
		break
	}
	for {
		msg, err := readTyped(r)
		if err != nil {
			return err
		}
		p.observe(msg[0], msg[5:])
		if _, err := w.Write(msg); err != nil {
			return err
		}
	}
}

// observe counts a frontend message of type typ and body b.
func (p *StatementCounter) observe(typ byte, b []byte) {
	switch typ {
	case 'Q': // simple query: the text
		p.count.Add(1)
		p.keep(cstring(b))
	case 'P': // parse: statement name, then the text
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			p.keep(cstring(b[i+1:]))
		}
	case 'E': // execute
		p.count.Add(1)
	}
}

func (p *StatementCounter) keep(s string) {
	p.mu.Lock()
	if len(p.texts) < 1_000_000 {
		p.texts = append(p.texts, s)
	}
	p.mu.Unlock()
}

func cstring(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// readUntyped reads a message without a type byte (length first).
func readUntyped(r *bufio.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n < 4 || n > 1<<20 {
		return nil, errors.New("pgcount: bad startup message length")
	}
	msg := make([]byte, n)
	copy(msg, h[:])
	_, err := io.ReadFull(r, msg[4:])
	return msg, err
}

// readTyped reads a message with a type byte: type, length, body.
func readTyped(r *bufio.Reader) ([]byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n < 4 || n > 1<<30 {
		return nil, errors.New("pgcount: bad message length")
	}
	msg := make([]byte, 1+n)
	copy(msg, h[:])
	_, err := io.ReadFull(r, msg[5:])
	return msg, err
}
