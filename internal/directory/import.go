package directory

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/internal/errs"
	"socdesk/internal/txn"
)

// Field is an employee's field a CSV column fills.
type Field string

// The fields of an import.
const (
	FieldNumber     Field = "NUMBER"
	FieldName       Field = "NAME"
	FieldEmail      Field = "EMAIL"
	FieldPhone      Field = "PHONE"
	FieldDepartment Field = "DEPARTMENT"
	// FieldManager is the employee number of the manager of the row's
	// department.
	FieldManager Field = "MANAGER"
	// FieldUser is the login of the socdesk user the employee is linked to.
	FieldUser Field = "USER"
)

// Fields are the import's fields, in the order a result names them.
var Fields = []Field{FieldNumber, FieldName, FieldEmail, FieldPhone, FieldDepartment, FieldManager, FieldUser}

// aliases are the header names each field is known by, normalized (see
// headerKey): what HR systems commonly export.
var aliases = map[string]Field{
	"number": FieldNumber, "employeenumber": FieldNumber, "employeeno": FieldNumber, "empno": FieldNumber,
	"empnumber": FieldNumber, "id": FieldNumber, "employeeid": FieldNumber, "staffnumber": FieldNumber, "personnelnumber": FieldNumber,
	"name": FieldName, "fullname": FieldName, "employeename": FieldName, "displayname": FieldName,
	"email": FieldEmail, "mail": FieldEmail, "emailaddress": FieldEmail,
	"phone": FieldPhone, "mobile": FieldPhone, "phonenumber": FieldPhone, "telephone": FieldPhone, "tel": FieldPhone, "mobilephone": FieldPhone,
	"department": FieldDepartment, "dept": FieldDepartment, "departmentname": FieldDepartment,
	"manager": FieldManager, "managernumber": FieldManager, "managerno": FieldManager, "manageremployeenumber": FieldManager,
	"user": FieldUser, "login": FieldUser, "username": FieldUser, "socdesklogin": FieldUser, "socdeskuser": FieldUser,
}

// headerKey is a header name as aliases know it: lower case, without
// spaces, dashes, underscores or dots ("E-Mail", "emp_no", "Emp. No.").
func headerKey(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsSpace(r), r == '-', r == '_', r == '.':
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// MarshalGQL writes f as a GraphQL enum value.
func (f Field) MarshalGQL(w io.Writer) { _, _ = fmt.Fprintf(w, "%q", string(f)) }

// UnmarshalGQL reads f from a GraphQL enum value.
func (f *Field) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	if !slices.Contains(Fields, Field(s)) {
		return fmt.Errorf("%v is not an employee field", v)
	}
	*f = Field(s)
	return nil
}

// ColumnMapping maps a column of the file, by its header, to a field; it
// comes before the aliases.
type ColumnMapping struct {
	Column string
	Field  Field
}

// ImportOptions configure an import.
type ImportOptions struct {
	Mapping []*ColumnMapping
	// DryRun checks the file and counts what it would do, writing nothing.
	DryRun bool
}

// LineError is what is wrong with a line of the file: its number as the
// file counts lines (the header is line 1; a quoted field may span
// lines), the header of the column at fault if one is, and why.
type LineError struct {
	Line    int
	Column  *string
	Message string
}

// ImportResult is what an import did, or, for a dry run or a file with
// errors, what it would do: nothing is written unless Imported.
type ImportResult struct {
	Created, Updated, Unchanged            int
	DepartmentsCreated, DepartmentsUpdated int
	Imported                               bool
	Errors                                 []LineError
}

// row is an employee as a line of the file gives it: the fields the file
// has columns for.
type row struct {
	line   int
	values map[Field]string
}

func (r row) has(f Field) bool { _, ok := r.values[f]; return ok }

// Import reads a CSV export of employees (UTF-8, with or without a byte
// order mark; comma or semicolon separated, detected from the header) and
// upserts them by employee number in one transaction: a present column
// sets its field (empty clears it), an absent one leaves it. Departments
// are created by name as needed; a row's manager is its department's. When
// any line is wrong nothing is written, and every line's errors are
// reported (up to MaxImportErrors). The file is bounded while it is read
// (MaxImportBytes, MaxImportRows): past a bound the import fails at once.
func (s *Service) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	if err := mayWriteDirectory(ctx, s.Client.Employee); err != nil {
		return nil, err
	}
	// The file is read before the transaction begins: a slow upload holds
	// no database lock.
	res := &ImportResult{}
	rows, columns, err := readCSV(r, opts.Mapping, res)
	if err != nil {
		return nil, err
	}
	err = txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		p := &plan{tx: tx, res: res, columns: columns}
		if err := p.resolve(ctx, rows); err != nil {
			return err
		}
		res.sortErrors()
		if len(res.Errors) > 0 || opts.DryRun {
			return nil // nothing written
		}
		if err := p.apply(ctx); err != nil {
			return err
		}
		res.Imported = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// addError records a line error; it reports false once enough are.
func (res *ImportResult) addError(line int, column, format string, args ...any) bool {
	if len(res.Errors) >= MaxImportErrors {
		return false
	}
	e := LineError{Line: line, Message: fmt.Sprintf(format, args...)}
	if column != "" {
		e.Column = &column
	}
	res.Errors = append(res.Errors, e)
	return len(res.Errors) < MaxImportErrors
}

// sortErrors orders the errors by line, noting when there may be more.
func (res *ImportResult) sortErrors() {
	slices.SortStableFunc(res.Errors, func(a, b LineError) int { return a.Line - b.Line })
	if n := len(res.Errors); n == MaxImportErrors {
		res.Errors[n-1].Message += fmt.Sprintf(" (only the first %d errors are reported)", MaxImportErrors)
	}
}

var errTooLarge = errs.Invalid("file", "is larger than %d MiB", MaxImportBytes>>20)

// boundedReader fails once more than n bytes are read.
type boundedReader struct {
	r io.Reader
	n int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.n+1 {
		p = p[:b.n+1]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if b.n < 0 {
		return n, errTooLarge
	}
	return n, err
}

var bom = []byte("\xef\xbb\xbf")

// readCSV reads the file's rows, mapping its columns to fields by header.
// Line errors go to res; an error is the file's as a whole (too large,
// too many rows, no usable header).
func readCSV(r io.Reader, mapping []*ColumnMapping, res *ImportResult) ([]row, map[Field]string, error) {
	br := bufio.NewReaderSize(&boundedReader{r: r, n: MaxImportBytes}, 64<<10)
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	head, err := br.Peek(br.Size())
	if errors.Is(err, errTooLarge) {
		return nil, nil, errTooLarge
	}
	cr := csv.NewReader(br)
	cr.Comma = detectComma(head)
	cr.FieldsPerRecord = -1 // counted here, to say which line is wrong
	header, err := cr.Read()
	switch {
	case errors.Is(err, errTooLarge):
		return nil, nil, err
	case errors.Is(err, io.EOF):
		return nil, nil, errs.Invalid("file", "is empty: the first line must be the header")
	case err != nil:
		return nil, nil, errs.Invalid("file", "the header cannot be read: %v", csvReason(err))
	}
	fields, columns, err := mapHeader(header, mapping)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, f := range []Field{FieldNumber, FieldName} {
		if _, ok := columns[f]; !ok {
			missing = append(missing, strings.ToLower(string(f)))
		}
	}
	if len(missing) > 0 {
		res.addError(1, "", "the header has no column for the %s: name it (e.g. \"number\", \"name\") or map one to it", strings.Join(missing, " and the "))
		return nil, nil, nil
	}
	var rows []row
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errTooLarge) {
			return nil, nil, err
		}
		if n >= MaxImportRows {
			return nil, nil, errs.Invalid("file", "has more than %d rows", MaxImportRows)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if !res.addError(pe.StartLine, "", "%s", csvReason(err)) {
				return nil, nil, nil
			}
			continue
		} else if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			if !res.addError(line, "", "has %d columns, the header %d", len(rec), len(header)) {
				return nil, nil, nil
			}
			continue
		}
		rw := row{line: line, values: make(map[Field]string, len(fields))}
		bad := false
		for i, f := range fields {
			if f == "" {
				continue
			}
			if !utf8.ValidString(rec[i]) || errs.HasNUL(rec[i]) {
				bad = true
				msg := "is not UTF-8 text"
				if errs.HasNUL(rec[i]) {
					msg = errs.NoNULMessage
				}
				if !res.addError(line, header[i], "%s", msg) {
					return nil, nil, nil
				}
				continue
			}
			rw.values[f] = strings.TrimSpace(rec[i])
		}
		if !bad {
			rows = append(rows, rw)
		}
	}
	return rows, columns, nil
}

// csvReason is a CSV error without the line encoding/csv prefixes (the
// line is reported on its own).
func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// detectComma tells a semicolon-separated file from a comma-separated one
// by its header line: the separator seen more often outside quotes.
func detectComma(head []byte) rune {
	commas, semis, quoted := 0, 0, false
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n':
			if semis > commas {
				return ';'
			}
			return ','
		case c == ',':
			commas++
		case c == ';':
			semis++
		}
	}
	if semis > commas {
		return ';'
	}
	return ','
}

// mapHeader gives each column its field ("": ignored), from the caller's
// mapping first and then the aliases; columns are the headers by field.
func mapHeader(header []string, mapping []*ColumnMapping) ([]Field, map[Field]string, error) {
	if len(header) > 0 && !utf8.ValidString(strings.Join(header, "")) {
		return nil, nil, errs.Invalid("file", "the header is not UTF-8 text")
	}
	if errs.HasNUL(strings.Join(header, "")) {
		return nil, nil, errs.Invalid("file", "the header "+errs.NoNULMessage)
	}
	explicit := map[string]Field{}
	for i, m := range mapping {
		key := headerKey(m.Column)
		if !slices.Contains(Fields, m.Field) {
			return nil, nil, errs.Invalid(fmt.Sprintf("mapping[%d].field", i), "is not an employee field")
		}
		if !slices.ContainsFunc(header, func(h string) bool { return headerKey(h) == key }) {
			return nil, nil, errs.Invalid(fmt.Sprintf("mapping[%d].column", i), "the file has no column %q", m.Column)
		}
		if _, dup := explicit[key]; dup {
			return nil, nil, errs.Invalid(fmt.Sprintf("mapping[%d].column", i), "the column %q is mapped twice", m.Column)
		}
		explicit[key] = m.Field
	}
	fields := make([]Field, len(header))
	columns := map[Field]string{}
	for pass := 0; pass < 2; pass++ { // the caller's mapping wins over an alias
		for i, h := range header {
			key := headerKey(h)
			f, ok := explicit[key]
			if pass == 1 {
				if ok || fields[i] != "" {
					continue
				}
				f, ok = aliases[key]
			}
			if !ok {
				continue
			}
			if prev, dup := columns[f]; dup {
				if pass == 1 {
					continue // an alias of a field another column has: ignored
				}
				return nil, nil, errs.Invalid("mapping", "the columns %q and %q are both mapped to %s", prev, h, f)
			}
			fields[i], columns[f] = f, h
		}
	}
	return fields, columns, nil
}
