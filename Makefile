# socdesk — `make run` to start, `make test` to test.
SHELL := bash
.SHELLFLAGS := -o pipefail -ec
GO ?= go
GENERATED := ent graph schema.graphql gqlgen.yml

.PHONY: run build test unit lint generate check-generate migration node-deps web-vendor bench-subscriptions bench bench-metrics bench-smoke bench-deliveries bench-schedules fuzz-smoke

## run: start the server on the embedded database, loading demo data on first start (Ctrl-C stops it)
# The built binary, not `go run`: go run exits 1 whenever it is interrupted,
# however cleanly the server stopped, and make reports that as an error.
run: build
	./bin/socdesk serve --demo

# The build's version, commit and date, for `socdesk version`, /healthz and
# the startup log (package internal/version). Without git they fall back to
# what Go stamps into the binary.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X socdesk/internal/version.version=$(VERSION) -X socdesk/internal/version.commit=$(COMMIT) -X socdesk/internal/version.date=$(BUILD_DATE)
BIN ?= bin/socdesk

## build: build bin/socdesk (BIN=path elsewhere), stamped with VERSION, COMMIT and BUILD_DATE
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/socdesk

## test: lint, check generated code is fresh, run every test (PostgreSQL and Redis tests skip, saying so, when the servers are not reachable)
test: lint check-generate unit

unit:
	$(GO) test -count=1 -json ./... | $(GO) run ./internal/devtools/testdb/testreport

# Every fuzz target, as package:FuzzName; adding a target is one line here
# (the websocket guard's and the ticketEvents cursor's go here too).
FUZZ_TARGETS := \
	./graph:FuzzHandler \
	./graph:FuzzTicketCursors \
	./graph:FuzzTicketFilter \
	./graph/scalar:FuzzCursor \
	./internal/live:FuzzDecodeCursor \
	./internal/wsguard:FuzzAdmit
# An execution count, not a duration: Go 1.26's fuzz coordinator can report
# "context deadline exceeded" when a duration ends while a worker is mid-call on
# a loaded machine (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline.
FUZZTIME ?= 2000x

## fuzz-smoke: run each fuzz target of FUZZ_TARGETS for FUZZTIME executions (CI), one worker each
fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg || exit 1; \
	done

## lint: go vet and a gofmt check
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './data/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## generate: ent (with entgql), then gqlgen
generate:
	$(GO) generate .

## check-generate: fail when `make generate` would change the generated code
check-generate:
	@before=$$(find $(GENERATED) -type f | sort | xargs sha256sum | sha256sum); \
	$(GO) generate . ; \
	after=$$(find $(GENERATED) -type f | sort | xargs sha256sum | sha256sum); \
	if [ "$$before" != "$$after" ]; then echo "generated code was stale: run 'make generate' and commit the result"; exit 1; fi

## migration: write a new PostgreSQL migration from the ent schema (NAME=what_changed)
migration:
	@test -n "$(NAME)" || { echo "usage: make migration NAME=what_changed"; exit 1; }
	$(GO) run ./internal/store/migrationgen $(NAME)

## node-deps: install the npm packages of the websocket test clients (tests also do it when needed)
node-deps:
	cd internal/devtools/wstest/js && npm ci --no-audit --no-fund

## web-vendor: refresh the browser builds embedded in internal/web/assets/vendor from the npm packages pinned in internal/web/npm (edit its package.json, then run this and commit)
web-vendor:
	cd internal/web/npm && npm install --ignore-scripts --no-audit --no-fund --save-exact
	$(GO) run ./internal/devtools/webvendor

SUBSCRIBERS ?= 10000
MUTATIONS ?= 60
BENCH_FLAGS ?=

## bench-subscriptions: SUBSCRIBERS websocket subscribers of ticketEvents on one server (fresh PostgreSQL database, Redis), MUTATIONS mutations at 1/s; reports commit-to-receipt p50/p99 and server memory per connection (also bin/bench-subscriptions.json)
bench-subscriptions:
	$(GO) build -o bin/socdesk ./cmd/socdesk
	$(GO) build -o bin/socdesk-bench ./cmd/socdesk-bench
	./bin/socdesk-bench run-subscriptions -socdesk bin/socdesk -subscribers $(SUBSCRIBERS) -mutations $(MUTATIONS) \
		-server-log bin/bench-subscriptions-server.log -json bin/bench-subscriptions.json $(BENCH_FLAGS)

BENCH_TICKETS ?= 1000000
BENCH_DURATION ?= 10s

## bench: the performance suite: a fresh PostgreSQL database with BENCH_TICKETS synthetic tickets, the server with Redis, every scenario through the API and as its raw-SQL floor, 3 interleaved rounds (medians); results in bench/results/
bench:
	$(GO) build -o bin/socdesk ./cmd/socdesk
	$(GO) build -o bin/socdesk-bench ./cmd/socdesk-bench
	./bin/socdesk-bench run -socdesk bin/socdesk -tickets $(BENCH_TICKETS) -duration $(BENCH_DURATION) $(BENCH_FLAGS)

## bench-deliveries: webhook deliveries per second through one replica and through two (500 each, 10 job workers, fresh PostgreSQL databases), beside the receiver's own rate and the servers' CPU per 1,000
bench-deliveries:
	$(GO) test -run '^$$' -bench BenchmarkDeliveries -benchtime 1x ./internal/devtools/e2e/

## bench-schedules: one day's generation of 10,000 active daily task schedules on PostgreSQL (time, statements per schedule)
bench-schedules:
	$(GO) test -run '^$$' -bench BenchmarkGenerateDaily10k -benchtime 1x ./internal/schedules/

## bench-metrics: ticketMetrics at BENCH_TICKETS synthetic tickets on PostgreSQL (30, 90 and 365 days; median latency as p50-ms)
bench-metrics:
	BENCH_TICKETS=$(BENCH_TICKETS) $(GO) test -run '^$$' -bench BenchmarkTicketMetrics -benchtime 5x -timeout 60m ./internal/ticketstats/

## bench-smoke: the suite at 2,000 tickets with short runs, so that the harness cannot rot (its figures mean nothing)
bench-smoke:
	$(GO) build -o bin/socdesk ./cmd/socdesk
	$(GO) build -o bin/socdesk-bench ./cmd/socdesk-bench
	./bin/socdesk-bench run -socdesk bin/socdesk -tickets 2000 -duration 500ms -subscribers 200 -mutations 5 \
		-db socdesk_bench_smoke -out bin/bench-smoke -server-log bin/bench-smoke-server.log
