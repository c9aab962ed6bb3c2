#!/usr/bin/env node
// apollo.mjs: run GraphQL operations through the real Apollo Client 4 over
// HTTP (HttpLink), with its persisted-query link, for socdesk's Go tests.
//
//   node apollo.mjs --url http://host/graphql [--token sdk_...] \
//       [--persisted] [--get-for-hashed] [--manifest path.json] \
//       --ops '[{"query":"query Q { viewer { login } }","variables":{}}]'
//
// --persisted          puts PersistedQueryLink (SHA-256 of the printed
//                      document) before the HttpLink
// --get-for-hashed     ... sending hash-only queries with GET
// --manifest path      ... taking ids from a persisted-query manifest
//                      (@apollo/persisted-query-lists) instead
// The operations run one after another, each with fetchPolicy no-cache.
//
// Output, one JSON object a line on stdout:
//   {"type":"fetch","method":"POST","body":{...},"status":200,"contentType":"..."}  every HTTP request
//   {"type":"result","op":0,"data":{...}}                                           an operation's data
//   {"type":"error","op":0,"name":"CombinedGraphQLErrors","errors":[...],"statusCode":401}
// and exits 0 (operation errors are output, not failures).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { CombinedGraphQLErrors, ServerError } from "@apollo/client/errors";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    persisted: { type: "boolean", default: false },
    "get-for-hashed": { type: "boolean", default: false },
    manifest: { type: "string" },
    ops: { type: "string" },
  },
});
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

// fetch, recording every request and its answer.
async function recordingFetch(input, init = {}) {
  const res = await fetch(input, init);
  const url = new URL(typeof input === "string" ? input : input.url);
  let body = null;
  if (init.body) body = JSON.parse(init.body);
  else if (url.searchParams.size) body = Object.fromEntries([...url.searchParams].map(([k, v]) => [k, k === "query" || k === "operationName" ? v : JSON.parse(v)]));
  out({ type: "fetch", method: init.method ?? "GET", body, status: res.status, contentType: res.headers.get("content-type") });
  return res;
}

const headers = args.token ? { authorization: `Bearer ${args.token}` } : {};
let link = new HttpLink({ uri: args.url, headers, fetch: recordingFetch });
if (args.persisted || args.manifest) {
  const hashing = args.manifest
    ? generatePersistedQueryIdsFromManifest({ loadManifest: () => JSON.parse(readFileSync(args.manifest, "utf8")) })
    : { sha256: (s) => createHash("sha256").update(s).digest("hex") };
  link = ApolloLink.from([new PersistedQueryLink({ ...hashing, useGETForHashedQueries: args["get-for-hashed"] }), link]);
}
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const ops = JSON.parse(args.ops ?? "[]");
for (const [i, op] of ops.entries()) {
  try {
    const doc = gql(op.query);
    const isMutation = doc.definitions.some((d) => d.kind === "OperationDefinition" && d.operation === "mutation");
    const res = isMutation
      ? await client.mutate({ mutation: doc, variables: op.variables, fetchPolicy: "no-cache" })
      : await client.query({ query: doc, variables: op.variables, fetchPolicy: "no-cache" });
    out({ type: "result", op: i, data: res.data ?? null });
  } catch (err) {
    const e = { type: "error", op: i, name: err?.constructor?.name ?? "Error", message: String(err?.message ?? err) };
    if (CombinedGraphQLErrors.is(err)) {
      e.name = "CombinedGraphQLErrors";
      e.errors = err.errors;
    } else if (ServerError.is(err)) {
      e.name = "ServerError";
      e.statusCode = err.statusCode;
    }
    out(e);
  }
}
