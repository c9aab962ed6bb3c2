// Package devtools holds socdesk's development tooling, apart from the
// product's packages: the benchmark suite (bench), the demo and synthetic
// data sets (seed), scratch databases for tests (testdb), the real
// JavaScript websocket clients driven from tests (wstest), the SMTP and
// HTTP receivers delivery tests send to (receivers) and the
// multi-process end-to-end tests (e2e). Nothing here decides product
// behaviour; the socdesk binary uses seed only for `socdesk seed` and
// `serve --demo`.
package devtools
