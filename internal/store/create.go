package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
)

// CreateDatabase creates an empty database called name, with the extensions
// socdesk needs, on the PostgreSQL server that adminURL connects to. It
// returns the new database's URL and a function that drops it. Tests and
// `make migration` use it for scratch databases.
func CreateDatabase(ctx context.Context, adminURL, name string) (string, func(), error) {
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return "", nil, err
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, err
	}
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	u.Path = "/" + name
	db, err := sql.Open("postgres", u.String())
	if err == nil {
		for _, ext := range Extensions {
			if _, e := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS "+ext); e != nil {
				err = errors.Join(err, fmt.Errorf("creating extension %s: %w", ext, e))
			}
		}
		db.Close()
	}
	if err != nil {
		drop()
		return "", nil, err
	}
	return u.String(), drop, nil
}
