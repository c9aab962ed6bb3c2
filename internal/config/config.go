// Package config holds socdesk's settings: defaults, overridden by SOCDESK_*
// environment variables (and DATABASE_URL, REDIS_URL), overridden by flags,
// and validated before anything starts.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"
)

// Config is everything socdesk can be told.
type Config struct {
	Addr            string
	DataDir         string
	DatabaseURL     string
	RedisURL        string
	AdminToken      string
	Demo            bool
	LogFormat       string
	LogLevel        string
	DBMaxConns      int
	MaxBodyBytes    int64
	MaxDepth        int
	MaxCost         int
	MaxTokens       int
	ShutdownTimeout time.Duration

	maxBody *int
	envErrs []error
}

// MaxPageSize is the largest `first`/`last` of a connection (GitHub's rule).
const MaxPageSize = 100

// Default returns the defaults.
func Default() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "./data",
		LogFormat:       "text",
		LogLevel:        "info",
		DBMaxConns:      20,
		MaxBodyBytes:    1 << 20,
		MaxDepth:        12,
		MaxCost:         20000,
		MaxTokens:       10000,
		ShutdownTimeout: 30 * time.Second,
	}
}

// Register declares the settings on fs, taking defaults from the
// environment (looked up with getenv). Each flag's help names its variable.
func (c *Config) Register(fs *flag.FlagSet, getenv func(string) string) {
	str := func(p *string, name, env, usage string) {
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, usage+" ("+env+")")
	}
	num := func(p *int, name, env, usage string) {
		if v := getenv(env); v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				*p = n
			} else {
				c.envErrs = append(c.envErrs, fmt.Errorf("%s: %q is not a number", env, v))
			}
		}
		fs.IntVar(p, name, *p, usage+" ("+env+")")
	}
	str(&c.Addr, "addr", "SOCDESK_ADDR", "address to listen on")
	str(&c.DataDir, "data-dir", "SOCDESK_DATA_DIR", "directory of the embedded database, used when no database URL is given")
	str(&c.DatabaseURL, "database-url", "DATABASE_URL", "PostgreSQL URL, postgres://…; empty runs on the embedded SQLite database")
	str(&c.RedisURL, "redis-url", "REDIS_URL", "Redis URL, redis://…, for events across replicas; empty uses an in-process broker")
	str(&c.AdminToken, "admin-token", "SOCDESK_ADMIN_TOKEN", "API token of the admin user, at least 32 characters; empty prints a one-time token on first start")
	if v := getenv("SOCDESK_DEMO"); v != "" {
		c.Demo, _ = strconv.ParseBool(v)
	}
	fs.BoolVar(&c.Demo, "demo", c.Demo, "load the demo data set when the database has no tickets (SOCDESK_DEMO)")
	str(&c.LogFormat, "log-format", "SOCDESK_LOG_FORMAT", "log format: text or json")
	str(&c.LogLevel, "log-level", "SOCDESK_LOG_LEVEL", "log level: debug, info, warn or error")
	num(&c.DBMaxConns, "db-max-conns", "SOCDESK_DB_MAX_CONNS", "PostgreSQL connection pool size")
	maxBody := int(c.MaxBodyBytes)
	num(&maxBody, "max-body-bytes", "SOCDESK_MAX_BODY_BYTES", "largest request body accepted")
	c.maxBody = &maxBody
	num(&c.MaxDepth, "max-depth", "SOCDESK_MAX_DEPTH", "deepest field nesting of a query")
	num(&c.MaxCost, "max-cost", "SOCDESK_MAX_COST", "largest query cost (fields, multiplied by page sizes)")
	num(&c.MaxTokens, "max-tokens", "SOCDESK_MAX_TOKENS", "largest number of tokens in a query document")
	if v := getenv("SOCDESK_SHUTDOWN_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			c.ShutdownTimeout = d
		} else {
			c.envErrs = append(c.envErrs, fmt.Errorf("SOCDESK_SHUTDOWN_TIMEOUT: %q is not a duration", v))
		}
	}
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may take to finish on SIGTERM (SOCDESK_SHUTDOWN_TIMEOUT)")
}

// Validate checks the settings once flags are parsed.
func (c *Config) Validate() error {
	if c.maxBody != nil {
		c.MaxBodyBytes = int64(*c.maxBody)
	}
	errs := append([]error(nil), c.envErrs...)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format must be text or json, not %q", c.LogFormat))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("log level: %w", err))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 32 {
		errs = append(errs, errors.New("the admin token must be at least 32 characters"))
	}
	for name, v := range map[string]int{"db max conns": c.DBMaxConns, "max depth": c.MaxDepth, "max cost": c.MaxCost, "max tokens": c.MaxTokens} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("max body bytes must be at least 1024"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown timeout must be positive"))
	}
	return errors.Join(errs...)
}

// SQLitePath is the embedded database's file.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "socdesk.db") }

// Logger returns the logger the settings describe, writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
