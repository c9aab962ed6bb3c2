#!/usr/bin/env node
// client.mjs: drive a real GraphQL websocket client library from a test.
//
//   node client.mjs --url ws://host/query --protocol graphql-transport-ws \
//       [--payload '{"token":"sdk_..."}'] [--origin https://app.example] \
//       [--ops '[{"id":"a","query":"subscription { name }","variables":{}}]' | --ops -] \
//       [--interactive] [--timeout-ms 30000]
//
// --protocol graphql-transport-ws  uses graphql-ws's createClient
// --protocol graphql-ws            uses subscriptions-transport-ws's SubscriptionClient
// Neither retries or reconnects, so a test sees the close code that ended
// the connection.
//
// --ops is a JSON array of {id (or op), query, variables, operationName,
// wireId}; "--ops -" reads that array from the first line of stdin.
// --interactive reads commands from stdin, one JSON object a line:
//   {"cmd":"subscribe","op":"a","query":"...","variables":{...},"operationName":"...","wireId":"..."}
//   {"cmd":"unsubscribe","op":"a"}
//   {"cmd":"close"}                       (or {"cmd":"close","code":4000,"reason":"bye"})
// In interactive mode, and after "--ops -", the end of stdin closes the
// client and exits. SIGTERM and SIGINT do too; so does --timeout-ms.
//
// Output is one JSON object a line on stdout:
//   {"type":"connected","payload":...}            connection_ack (payload if any)
//   {"type":"connection_error","payload":...}     legacy protocol only
//   {"type":"next","op":label,"payload":{"data":...,"errors":...}}
//   {"type":"error","op":label,"errors":[...]}    op omitted: a socket or client error
//   {"type":"complete","op":label}
//   {"type":"closed","code":N,"reason":"..."}     always the last line; code 0:
//                                                 the socket never opened or did not close
// Diagnostics go to stderr.

import { createClient } from 'graphql-ws';
import pkg from 'subscriptions-transport-ws';
import WebSocket from 'ws';
import { createInterface } from 'node:readline';

const { SubscriptionClient } = pkg;

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { payload: {}, interactive: false, timeoutMs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const json = (s, what) => {
      try {
        return JSON.parse(s);
      } catch (e) {
        return usage(`${what} is not JSON: ${e.message}`);
      }
    };
    switch (a) {
      case '--url': o.url = val(); break;
      case '--protocol': o.protocol = val(); break;
      case '--payload': o.payload = json(val(), '--payload'); break;
      case '--origin': o.origin = val(); break;
      case '--ops': {
        const v = val();
        o.ops = v === '-' ? '-' : json(v, '--ops');
        break;
      }
      case '--interactive': o.interactive = true; break;
      case '--timeout-ms': o.timeoutMs = Number(val()); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!o.url) usage('--url is required');
  if (o.protocol !== 'graphql-transport-ws' && o.protocol !== 'graphql-ws') {
    usage('--protocol must be graphql-transport-ws or graphql-ws');
  }
  if (o.ops !== undefined && o.ops !== '-' && !Array.isArray(o.ops)) usage('--ops must be a JSON array');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

const ops = new Map(); // label -> {dispose, done, reported}
let exiting = false;

// emit prints one event; an op's terminal event (complete or error) only once.
function emit(obj) {
  if (obj.op !== undefined && (obj.type === 'complete' || obj.type === 'error')) {
    const entry = ops.get(obj.op);
    if (entry) {
      if (entry.reported) return;
      entry.reported = true;
      entry.done = true;
    }
  }
  if (exiting) return;
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function log(msg) {
  process.stderr.write(`client.mjs: ${msg}\n`);
}

// errorList turns whatever a library reports as an error into a JSON array:
// GraphQL errors stay as they are; close events and Errors become
// {message, code?, reason?}.
function errorList(e) {
  if (Array.isArray(e)) return e.map(one);
  return [one(e)];
  function one(x) {
    if (x && typeof x === 'object' && 'code' in x && 'reason' in x && typeof x.code === 'number') {
      return { message: `socket closed: ${x.code} ${x.reason}`, code: x.code, reason: String(x.reason) };
    }
    if (x instanceof Error) return { message: x.message };
    if (x && typeof x === 'object') return x;
    return { message: String(x) };
  }
}

// A ws WebSocket that sends the Origin header, records how the socket
// closed, and never lets an 'error' event go unheard (subscriptions-transport-ws
// sets onerror = null while a handshake may still fail, and ws throws an
// 'error' nobody listens to).
let lastSocket = null;
let closeInfo = null;
function socketClass(origin) {
  return class TestWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, origin ? { headers: { Origin: origin } } : {});
      lastSocket = this;
      this.on('error', (err) => {
        emit({ type: 'error', errors: errorList(err) });
      });
      this.on('close', (code, reason) => {
        if (this === lastSocket) socketClosed(code, reason.toString());
      });
    }
  };
}

// --- shutdown --------------------------------------------------------------

function socketClosed(code, reason) {
  if (closeInfo) return;
  closeInfo = { code, reason };
  onSocketClosed?.(code);
  // Let the libraries report to their subscribers first (promise jobs and
  // the close event's other listeners), so "closed" is the last line.
  setTimeout(() => finish(), 20);
}

function finish() {
  if (exiting) return;
  const c = closeInfo ?? { code: 0, reason: 'not connected' };
  emit({ type: 'closed', code: c.code, reason: c.reason });
  exiting = true;
  process.stdout.write('', () => process.exit(0));
}

// shutdown closes the client (as a user would) and exits once the socket
// has closed, or soon anyway.
function shutdown(why, code, reason) {
  if (exiting) return;
  log(`closing: ${why}`);
  try {
    client.close(code, reason);
  } catch (e) {
    log(`close: ${e.message}`);
  }
  if (!lastSocket || lastSocket.readyState === WebSocket.CLOSED) {
    if (!closeInfo) closeInfo = { code: 0, reason: `closed before connecting (${why})` };
    setTimeout(() => finish(), 20);
    return;
  }
  setTimeout(() => {
    if (!closeInfo) {
      closeInfo = { code: 0, reason: `socket did not close in time (${why})` };
    }
    finish();
  }, 2000);
}

let onSocketClosed = null;

// --- the two clients ---------------------------------------------------------

// Each makes {subscribe(label, request, wireId) -> dispose, close(code, reason)}.

function transportWSClient() {
  const WS = socketClass(opts.origin);
  let socket = null;
  let nextWireId = null;
  const c = createClient({
    url: opts.url,
    webSocketImpl: WS,
    connectionParams: opts.payload,
    lazy: false,
    retryAttempts: 0,
    shouldRetry: () => false,
    // The non-lazy connection's fatal error: the close is reported by the
    // socket itself.
    onNonLazyError: () => {},
    generateID: () => {
      if (nextWireId !== null) {
        const id = nextWireId;
        nextWireId = null;
        return id;
      }
      return crypto.randomUUID();
    },
    on: {
      opened: (s) => {
        socket = s;
      },
      connected: (_s, payload) => {
        emit(payload === undefined ? { type: 'connected' } : { type: 'connected', payload });
      },
    },
  });
  // Without this, a lazy:false client reconnects at once after a close with
  // 1000 (it holds a lock of its own, and 1000 with locks held means "go
  // on"), whatever retryAttempts says. Other codes are not retried with
  // retryAttempts 0: running subscriptions get the close event as an error.
  onSocketClosed = (code) => {
    if (code === 1000) c.dispose().catch(() => {});
  };
  return {
    subscribe(label, request, wireId) {
      if (wireId !== undefined) nextWireId = String(wireId);
      return c.subscribe(request, {
        next: (payload) => emit({ type: 'next', op: label, payload }),
        error: (err) => emit({ type: 'error', op: label, errors: errorList(err) }),
        complete: () => emit({ type: 'complete', op: label }),
      });
    },
    close(code, reason) {
      if (code !== undefined && socket && socket.readyState === WebSocket.OPEN) {
        socket.close(code, reason ?? '');
        return;
      }
      c.dispose().catch(() => {});
      if (!socket) lastSocket?.terminate();
    },
  };
}

function legacyClient() {
  const WS = socketClass(opts.origin);
  const c = new SubscriptionClient(
    opts.url,
    {
      reconnect: false,
      lazy: false,
      connectionParams: opts.payload,
      // The defaults give the handshake 1 s, then close the socket silently.
      minTimeout: 10000,
      timeout: 30000,
      connectionCallback: (err) => {
        if (err !== undefined) emit({ type: 'connection_error', payload: err });
      },
    },
    WS,
  );
  c.onConnected((payload) => {
    emit(payload === undefined ? { type: 'connected' } : { type: 'connected', payload });
  });
  return {
    subscribe(label, request, wireId) {
      let restore = null;
      if (wireId !== undefined) {
        restore = c.generateOperationId;
        c.generateOperationId = () => String(wireId);
      }
      let sub;
      try {
        sub = c.request(request).subscribe({
          next: (payload) => emit({ type: 'next', op: label, payload }),
          error: (err) => emit({ type: 'error', op: label, errors: errorList(err) }),
          complete: () => emit({ type: 'complete', op: label }),
        });
      } finally {
        if (restore) c.generateOperationId = restore;
      }
      return () => sub.unsubscribe();
    },
    close(code, reason) {
      if (code !== undefined && c.client && c.client.readyState === WebSocket.OPEN) {
        c.client.close(code, reason ?? '');
        return;
      }
      // Sends connection_terminate (a stop for each operation first), then closes.
      c.close(true, true);
    },
  };
}

const client = opts.protocol === 'graphql-transport-ws' ? transportWSClient() : legacyClient();

// --- operations ------------------------------------------------------------

function subscribe(cmd) {
  const label = String(cmd.op ?? cmd.id ?? '');
  if (!label) return emit({ type: 'error', errors: [{ message: 'subscribe: no op label' }] });
  if (typeof cmd.query !== 'string') {
    return emit({ type: 'error', op: label, errors: [{ message: 'subscribe: no query' }] });
  }
  if (ops.has(label) && !ops.get(label).done) {
    return emit({ type: 'error', op: label, errors: [{ message: `subscribe: op ${label} is running` }] });
  }
  const request = { query: cmd.query };
  if (cmd.variables !== undefined) request.variables = cmd.variables;
  if (cmd.operationName !== undefined) request.operationName = cmd.operationName;
  const entry = { dispose: null, done: false, reported: false };
  ops.set(label, entry);
  try {
    entry.dispose = client.subscribe(label, request, cmd.wireId);
  } catch (e) {
    entry.done = true;
    emit({ type: 'error', op: label, errors: errorList(e) });
  }
}

function unsubscribe(cmd) {
  const label = String(cmd.op ?? cmd.id ?? '');
  const entry = ops.get(label);
  if (!entry) return emit({ type: 'error', op: label, errors: [{ message: `unsubscribe: no op ${label}` }] });
  if (entry.done) return;
  entry.done = true;
  entry.dispose?.();
  // graphql-ws completes the sink when it is disposed; subscriptions-
  // transport-ws forgets the operation and never tells its observer. Report
  // "complete" either way, once.
  if (opts.protocol === 'graphql-ws') emit({ type: 'complete', op: label });
}

function command(cmd) {
  switch (cmd.cmd) {
    case 'subscribe': return subscribe(cmd);
    case 'unsubscribe': return unsubscribe(cmd);
    case 'close': return shutdown('close command', cmd.code, cmd.reason);
    default: return emit({ type: 'error', errors: [{ message: `unknown command ${JSON.stringify(cmd.cmd)}` }] });
  }
}

for (const op of Array.isArray(opts.ops) ? opts.ops : []) subscribe(op);

if (opts.interactive || opts.ops === '-') {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let first = true;
  rl.on('line', (line) => {
    line = line.trim();
    if (!line) return;
    let v;
    try {
      v = JSON.parse(line);
    } catch (e) {
      emit({ type: 'error', errors: [{ message: `stdin: not JSON: ${e.message}` }] });
      return;
    }
    if (first && opts.ops === '-') {
      first = false;
      if (!Array.isArray(v)) return emit({ type: 'error', errors: [{ message: 'stdin: ops must be a JSON array' }] });
      v.forEach(subscribe);
      return;
    }
    if (!opts.interactive) return;
    command(v);
  });
  rl.on('close', () => shutdown('stdin closed'));
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('uncaughtException', (e) => {
  emit({ type: 'error', errors: [{ message: `uncaught: ${e?.stack ?? e}` }] });
});
process.on('beforeExit', () => finish());
process.on('unhandledRejection', (e) => {
  log(`unhandled rejection: ${e?.stack ?? JSON.stringify(e)}`);
});
if (opts.timeoutMs > 0) setTimeout(() => shutdown(`timeout ${opts.timeoutMs} ms`), opts.timeoutMs).unref();
