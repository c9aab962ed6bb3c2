// Package server is socdesk's HTTP surface: /graphql behind token
// authentication and a body limit (uploads' larger, streamed), attachments'
// downloads (by token or signed URL), the schema's SDL, the browser pages
// (package web: GraphiQL and the wallboard), liveness (with the build's
// version) and readiness probes, CORS for pages of other origins, response
// compression, and a graceful shutdown that lets in-flight requests finish
// before closing the websockets.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"time"

	"socdesk/internal/auth"
	"socdesk/internal/errs"
	"socdesk/internal/live"
	"socdesk/internal/reqlog"
	"socdesk/internal/version"
	"socdesk/internal/web"
	"socdesk/internal/wsguard"
)

// Deps are what the HTTP surface needs.
type Deps struct {
	GraphQL      http.Handler
	Auth         *auth.Authenticator
	Logger       *slog.Logger
	MaxBodyBytes int64
	// Ready checks the backing services (database, Redis) for /readyz.
	Ready func(context.Context) error
	// CORSOrigins may call the API from a browser page ("*": any).
	CORSOrigins []string
	// Schema is the SDL served at /schema.graphql; nil serves none (404).
	Schema []byte
	// Metrics, if set, is served at GET /metrics (it checks its own token).
	Metrics http.Handler
	// Attachments, if set, serves GET /attachments/{id} to authenticated
	// viewers, and SignedAttachments the same path with a signature
	// (…?expires=…&sig=…) without a token. MaxUploadBytes is what a
	// multipart /graphql request may carry beyond MaxBodyBytes.
	Attachments       http.Handler
	SignedAttachments http.Handler
	MaxUploadBytes    int64
	// Explain, if set, serves the personal explanation pages at
	// /explain/{token} and their answers' files under it (authorized by the
	// token in the path; see package explanations/page).
	Explain http.Handler
	// Ingest, if set, serves POST /ingest/{rule}: detection events, which
	// it authenticates (a service token or the rule's signature) and
	// bounds itself.
	Ingest http.Handler
}

// NewHandler returns the routes.
func NewHandler(d Deps) http.Handler {
	mux := http.NewServeMux()
	failed := func(r *http.Request, err error) {
		if reqlog.ClientGone(r.Context()) {
			reqlog.From(r.Context(), d.Logger).Debug("client went away while authenticating", "err", err)
			return
		}
		reqlog.From(r.Context(), d.Logger).Error("authenticating", "err", err)
	}
	authenticated := d.Auth.Middleware(failed)
	// /graphql also takes explanation link tokens, for the portal's link
	// operations (see auth.MiddlewareWithLinks).
	api := d.Auth.MiddlewareWithLinks(failed)(reqlog.WithViewer(d.GraphQL))
	// A WebSocket authenticates in connection_init (a browser's upgrade
	// cannot carry the header); a header the upgrade does carry is handed on
	// for the same check (see graph.LiveOptions).
	mux.Handle("/graphql", limitBody(d.MaxBodyBytes, d.MaxUploadBytes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wsguard.IsUpgrade(r) {
			ctx := live.WithUpgradeAuthorization(r.Context(), r.Header.Get("Authorization"))
			d.GraphQL.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		api.ServeHTTP(w, r)
	})))
	if d.Attachments != nil {
		authenticatedDownload := authenticated(reqlog.WithViewer(d.Attachments))
		mux.Handle("GET /attachments/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("sig") { // a browser's link: the signature stands for the token
				d.SignedAttachments.ServeHTTP(w, r)
				return
			}
			authenticatedDownload.ServeHTTP(w, r)
		}))
	}
	web.Register(mux) // GraphiQL at /, the wallboard at /wallboard, their assets
	if d.Schema != nil {
		mux.Handle("GET /schema.graphql", authenticated(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(d.Schema)
		})))
	}
	health, _ := json.Marshal(map[string]any{"status": "ok", "build": version.Get()})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(health, '\n'))
	})
	if d.Metrics != nil {
		mux.Handle("GET /metrics", d.Metrics)
	}
	if d.Explain != nil {
		mux.Handle("/explain/{token}", d.Explain)
		mux.Handle("/explain/{token}/attachments/{id}", d.Explain)
	}
	if d.Ingest != nil {
		mux.Handle("/ingest/{rule}", d.Ingest)
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := d.Ready(ctx); err != nil {
			reqlog.From(r.Context(), d.Logger).Warn("not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return reqlog.Middleware(d.Logger)(withCORS(d.CORSOrigins, withCompression(mux)))
}

// limitBody refuses bodies over max with 413: at once when the length is
// declared, after reading at most max+1 bytes when it is not (chunked).
// A multipart body (an upload) may be upload bytes larger; it is never
// read ahead but streamed to its transport, which a chunked one's limit
// cuts (413) as it reaches it.
func limitBody(max, upload int64, next http.Handler) http.Handler {
	tooLarge := func(w http.ResponseWriter, r *http.Request) {
		errs.WriteHTTP(w, r, http.StatusRequestEntityTooLarge, errs.New(errs.BadUserInput, "request body too large"))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if upload > 0 && isMultipart(r) {
			if r.ContentLength > max+upload {
				tooLarge(w, r)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max+upload)
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			tooLarge(w, r)
			return
		}
		if r.ContentLength < 0 && r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil {
				http.Error(w, "reading the request body", http.StatusBadRequest)
				return
			}
			if int64(len(body)) > max {
				tooLarge(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// Serve serves h on ln until ctx ends, then stops accepting connections and
// waits up to shutdownTimeout for in-flight requests to finish. Then
// drained, if set, ends what the HTTP server does not track (hijacked
// connections: the websockets) within what is left of shutdownTimeout.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, shutdownTimeout time.Duration, log *slog.Logger, drained func(context.Context)) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if drained != nil {
		drained(sctx)
	}
	if err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
