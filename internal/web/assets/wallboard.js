// socdesk's wallboard: the daily trend of tickets per status as a stacked
// bar chart and the latest tickets, both kept live by subscriptions over
// graphql-ws, on socdesk's public API only.
//
// - The token is asked once and kept in this tab's session storage.
// - The filter (sites, categories, statuses) lives in the URL, so a wall
//   screen can be bookmarked.
// - When the connection drops (network, server restart) the board
//   reconnects with backoff and resumes the ticket stream after the last
//   cursor it received, so it misses nothing and needs no reload; the trend
//   subscription sends the whole series again on every start.
// - When the user's rate budget refuses an operation (RATE_LIMITED), the
//   board waits the retryAfter the server gives before it tries again; an
//   operation that costs more than the whole budget is not tried again
//   (the server's message says so) until the filter changes or a reload.
(function () {
  'use strict';

  var TOKEN_KEY = 'socdesk.wallboard.token';
  var MAX_TICKETS = 50; // rows shown, and tickets kept in memory
  var DAYS = 14; // bars of the chart, today included
  var FILTER_KEYS = ['sites', 'categories', 'statuses'];
  // Every status in workflow order (the order of the status filter).
  var STATUSES = ['NEW', 'ASSIGNED', 'IN_PROGRESS', 'SUBMITTED', 'REJECTED', 'APPROVED',
    'TRIAGE', 'ANALYSIS', 'REMEDIATION', 'RESOLVED', 'CLOSED'];

  var TICKET_FIELDS = 'id number title status priority createdAt version site { name } category { name }';
  var LIST = 'query Wallboard($filter: TicketFilter) { tickets(first: ' + MAX_TICKETS +
    ', filter: $filter, orderBy: {field: CREATED_AT, direction: DESC}) { edges { node { ' + TICKET_FIELDS + ' } } } }';
  var OPTIONS = 'query WallboardOptions { sites { id name } categories { id name } }';
  var EVENTS = 'subscription WallboardTickets($filter: TicketFilter, $after: String) { ticketEvents(filter: $filter, after: $after) { cursor inView ticketId ticket { ' + TICKET_FIELDS + ' } } }';
  var TREND = 'subscription WallboardTrend($filter: TicketFilter, $from: Date!, $to: Date!, $tz: String) { ticketTrend(filter: $filter, from: $from, to: $to, timeZone: $tz) { statuses days { date values } } }';

  var $ = function (id) { return document.getElementById(id); };
  var state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    filter: readFilter(),
    tickets: new Map(), // by id
    fresh: new Set(), // ids changed live, highlighted once
    cursor: null, // of the last change received: where a reconnect resumes
    client: null,
    gen: 0, // bumped by every (re)connection; late callbacks of older ones are ignored
    retry: 0,
    timer: null,
    trendTo: null, // the last day of the chart
    chart: null
  };

  // --- URL filter -------------------------------------------------------

  function readFilter() {
    var q = new URLSearchParams(location.search);
    var f = {};
    FILTER_KEYS.forEach(function (k) { f[k] = (q.get(k) || '').split(',').filter(Boolean); });
    return f;
  }

  function writeFilter(f) {
    var parts = FILTER_KEYS.filter(function (k) { return f[k].length; }).map(function (k) {
      return k + '=' + f[k].map(encodeURIComponent).join(',');
    });
    history.replaceState(null, '', location.pathname + (parts.length ? '?' + parts.join('&') : ''));
  }

  // The GraphQL filter: only the lists given (an empty list matches nothing).
  function gqlFilter() {
    var f = {};
    FILTER_KEYS.forEach(function (k) { if (state.filter[k].length) f[k] = state.filter[k]; });
    return Object.keys(f).length ? f : null;
  }

  // --- HTTP -------------------------------------------------------------

  function gql(query, variables) {
    return fetch('/graphql', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + state.token },
      body: JSON.stringify({ query: query, variables: variables || {} })
    }).then(function (r) {
      return r.json().catch(function () { throw new Error('HTTP ' + r.status); }).then(function (body) {
        if (r.status === 401 || errorCode(body.errors) === 'UNAUTHENTICATED') throw { unauthenticated: true };
        if (body.errors && body.errors.length) throw body.errors;
        return body.data;
      });
    });
  }

  function errorCode(err) {
    var e = Array.isArray(err) ? err[0] : err;
    return (e && e.extensions && e.extensions.code) || '';
  }

  function errorMessage(err) {
    if (Array.isArray(err)) err = err[0];
    if (err && typeof err.code === 'number') return 'connection closed (code ' + err.code + (err.reason ? ': ' + err.reason : '') + ')';
    if (err && err.message) return err.message;
    // A websocket's error event: the browser tells no more than that.
    if (err instanceof Event) return 'cannot connect to the server';
    return String(err);
  }

  // --- live connection --------------------------------------------------

  function setConnection(s, text) {
    var el = $('connection');
    el.dataset.state = s;
    el.textContent = text || s;
  }

  function connect() {
    clearTimeout(state.timer);
    if (state.client) state.client.dispose();
    var gen = ++state.gen;
    setConnection(state.retry ? 'reconnecting' : 'connecting', state.retry ? 'reconnecting…' : 'connecting…');
    var needList = !state.cursor; // first start, new filter, or a cursor the server refused
    var buffered = null; // changes received while the list loads; null once it is loaded
    var pongTimer = null;
    var client = graphqlWs.createClient({
      url: new URL('/graphql', location.href).href.replace(/^http/, 'ws'),
      connectionParams: { token: state.token },
      retryAttempts: 0, // reconnecting is ours: it resumes from the cursor
      // A network that drops silently closes nothing: a ping every 10 s
      // unanswered for 5 s ends the connection, and the board reconnects.
      keepAlive: 10000,
      on: {
        connected: function () {
          if (gen !== state.gen) return;
          setConnection('live', 'live');
          if (!needList) return;
          // The server starts a subscription asynchronously, so a change
          // committed just after the first read may come before the stream
          // is followed: a second read, once it surely is, closes that gap.
          loadList();
          setTimeout(function () { if (gen === state.gen) loadList(); }, 2000);
        },
        ping: function (received) {
          if (received) return;
          clearTimeout(pongTimer);
          // Not socket.close(): its closing handshake would wait on the
          // same silent network.
          pongTimer = setTimeout(function () { fail(new Error('no answer to a ping')); }, 5000);
        },
        pong: function (received) { if (received) clearTimeout(pongTimer); },
        closed: function () { clearTimeout(pongTimer); }
      }
    });
    state.client = client;

    function fail(err) {
      if (gen !== state.gen) return;
      state.gen++;
      client.dispose();
      recover(err);
    }
    function sink(onData) {
      return {
        next: function (r) {
          if (r.errors) return fail(r.errors);
          if (gen === state.gen) onData(r.data);
        },
        error: fail,
        complete: function () { fail(new Error('the server ended the subscription')); }
      };
    }

    var trend = trendVariables();
    state.trendTo = trend.to;
    client.subscribe({ query: TREND, variables: trend }, sink(function (d) {
      state.retry = 0; // the server answers: the next drop starts the backoff afresh
      drawTrend(d.ticketTrend);
    }));
    // Without a cursor the stream is followed from now and the list read
    // once the socket is up; what arrives while it loads is applied on top
    // of it (changes older than the list are ignored by their version).
    client.subscribe({ query: EVENTS, variables: { filter: gqlFilter(), after: state.cursor } }, sink(function (d) {
      if (buffered) return buffered.push(d.ticketEvents);
      applyChange(d.ticketEvents);
      render();
    }));

    function loadList() {
      var pending = buffered = [];
      gql(LIST, { filter: gqlFilter() }).then(function (d) {
        if (gen !== state.gen) return;
        state.tickets = new Map();
        d.tickets.edges.forEach(function (e) { state.tickets.set(e.node.id, e.node); });
        if (buffered === pending) buffered = null; // else a newer read is under way
        pending.forEach(applyChange);
        render();
      }, fail);
    }
  }

  function recover(err) {
    var code = errorCode(err);
    if (err && (err.unauthenticated || err.code === 4403 || code === 'UNAUTHENTICATED')) {
      return signOut('The server refused the token.');
    }
    if (code === 'RESUME_REQUIRED') {
      state.cursor = err[0].extensions.cursor || state.cursor;
      return connect();
    }
    if (code === 'BAD_USER_INPUT') {
      var field = (err[0].extensions && err[0].extensions.field) || '';
      if (!state.cursor || field.indexOf('after') < 0) {
        // A filter the server refuses (say a bookmarked site that is gone):
        // retrying would not help.
        return halt(err);
      }
      state.cursor = null; // a cursor this server does not know: start afresh
    }
    if (code === 'RATE_LIMITED') {
      var after = retryAfter(err);
      return after === undefined ? halt(err) : waitBudget(after, connect);
    }
    var delay = Math.min(5000, 250 * Math.pow(2, state.retry++)) * (0.75 + Math.random() / 2);
    setConnection('reconnecting', 'reconnecting… (' + errorMessage(err) + ')');
    state.timer = setTimeout(connect, delay);
  }

  // halt stops the board on an error that retrying would not cure, and
  // shows it; a new filter (or a reload) starts again.
  function halt(err) {
    state.client = null;
    setConnection('failed', errorMessage(err));
  }

  // retryAfter is the seconds a RATE_LIMITED error says to wait, undefined
  // when the operation can never run (it costs more than the whole budget).
  function retryAfter(err) {
    var s = Array.isArray(err) && err[0].extensions && err[0].extensions.retryAfter;
    return typeof s === 'number' ? s : undefined;
  }

  // waitBudget calls again once the budget has the points again (seconds,
  // as the server says, plus up to a fifth more so that boards sharing a
  // budget do not all come back at once), counting down meanwhile.
  function waitBudget(seconds, again) {
    var until = Date.now() + seconds * 1000 * (1 + Math.random() / 5);
    (function tick() {
      var left = until - Date.now();
      if (left <= 0) return again();
      setConnection('limited', 'rate limited: retrying in ' + Math.ceil(left / 1000) + 's');
      state.timer = setTimeout(tick, left % 1000 + 1); // just after the number changes
    })();
  }

  // --- ticket list ------------------------------------------------------

  // applyChange adds, updates or removes a ticket as one change says; an
  // older version than the one shown (a change already in the list) is
  // ignored.
  function applyChange(ch) {
    state.cursor = ch.cursor;
    if (ch.inView && ch.ticket) {
      var old = state.tickets.get(ch.ticketId);
      if (old && old.version > ch.ticket.version) return;
      state.tickets.set(ch.ticketId, ch.ticket);
      state.fresh.add(ch.ticketId);
    } else {
      state.tickets.delete(ch.ticketId);
    }
  }

  function render() {
    var list = Array.from(state.tickets.values()).sort(function (a, b) {
      return Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.number - a.number;
    }).slice(0, MAX_TICKETS);
    if (state.tickets.size > MAX_TICKETS) {
      state.tickets = new Map(list.map(function (t) { return [t.id, t]; }));
    }
    var body = $('tickets').tBodies[0];
    body.replaceChildren.apply(body, list.map(row));
    $('empty').hidden = list.length > 0;
    state.fresh.clear();
  }

  function cell(text, className) {
    var td = document.createElement('td');
    var span = document.createElement('span');
    span.textContent = text;
    if (className) span.className = className;
    td.appendChild(span);
    return td;
  }

  function row(t) {
    var tr = document.createElement('tr');
    tr.dataset.number = t.number;
    tr.dataset.status = t.status;
    if (state.fresh.has(t.id)) tr.className = 'fresh';
    tr.append(cell('#' + t.number), cell(t.title), cell(t.site.name), cell(t.category.name),
      cell(label(t.priority), 'priority-' + t.priority), cell(label(t.status), 'badge status-' + t.status),
      cell(new Date(t.createdAt).toLocaleString()));
    return tr;
  }

  function label(s) {
    s = s.replace(/_/g, ' ').toLowerCase();
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  // --- trend chart ------------------------------------------------------

  function trendVariables() {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    var day = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
    var now = Date.now();
    return { filter: gqlFilter(), from: day.format(now - (DAYS - 1) * 86400000), to: day.format(now), tz: tz };
  }

  function colour(status) {
    return getComputedStyle(document.documentElement).getPropertyValue('--status-' + status).trim() || '#94a3b8';
  }

  function drawTrend(trend) {
    var labels = trend.days.map(function (d) { return d.date; });
    var series = trend.statuses.map(function (s, i) {
      return { status: s, data: trend.days.map(function (d) { return d.values[i]; }) };
    });
    var chart = state.chart;
    var same = chart && chart.data.datasets.length === series.length &&
      chart.data.datasets.every(function (ds, i) { return ds.status === series[i].status; });
    if (same) {
      // In place, so the series the legend has hidden stay hidden.
      chart.data.labels = labels;
      chart.data.datasets.forEach(function (ds, i) { ds.data = series[i].data; });
      chart.update();
      return;
    }
    if (chart) chart.destroy();
    state.chart = new Chart($('trend'), {
      type: 'bar',
      data: {
        labels: labels,
        datasets: series.map(function (s) {
          return { label: label(s.status), status: s.status, data: s.data, backgroundColor: colour(s.status) };
        })
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true, ticks: { color: '#94a3b8' }, grid: { color: '#1e293b' } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0, color: '#94a3b8' }, grid: { color: '#1e293b' } }
        },
        plugins: {
          legend: {
            position: 'bottom',
            // Only the statuses the days have (a click hides or shows one).
            labels: { color: '#e2e8f0', filter: function (item, data) { return data.datasets[item.datasetIndex].data.some(function (v) { return v > 0; }); } }
          }
        }
      }
    });
  }

  // --- filter form, token -------------------------------------------------

  function fillFilter(options) {
    var form = $('filter');
    var lists = { sites: options.sites, categories: options.categories,
      statuses: STATUSES.map(function (s) { return { id: s, name: label(s) }; }) };
    FILTER_KEYS.forEach(function (k) {
      form.elements[k].replaceChildren.apply(form.elements[k], lists[k].map(function (o) {
        var opt = new Option(o.name, o.id);
        opt.selected = state.filter[k].indexOf(o.id) >= 0;
        return opt;
      }));
    });
  }

  function filterChanged() {
    var form = $('filter');
    FILTER_KEYS.forEach(function (k) {
      state.filter[k] = Array.from(form.elements[k].selectedOptions).map(function (o) { return o.value; });
    });
    writeFilter(state.filter);
    state.cursor = null; // another stream: start afresh
    state.retry = 0;
    connect();
  }

  function signOut(message) {
    clearTimeout(state.timer);
    state.gen++;
    if (state.client) state.client.dispose();
    state.client = null;
    state.cursor = null;
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    $('board').hidden = true;
    $('signout').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    setConnection('idle', '');
  }

  function start() {
    $('login').hidden = true;
    gql(OPTIONS).then(function (options) {
      fillFilter(options);
      $('board').hidden = false;
      $('signout').hidden = false;
      connect();
    }, function (err) {
      if (err && err.unauthenticated) return signOut('The server refused the token.');
      if (errorCode(err) === 'RATE_LIMITED' && retryAfter(err) !== undefined) return waitBudget(retryAfter(err), start);
      setConnection('failed', errorMessage(err));
    });
  }

  $('login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    state.token = ev.target.elements.token.value.trim();
    ev.target.elements.token.value = '';
    sessionStorage.setItem(TOKEN_KEY, state.token);
    start();
  });
  $('filter').addEventListener('change', filterChanged);
  $('filter').addEventListener('reset', function () { setTimeout(filterChanged); });
  $('signout').addEventListener('click', function () { signOut(''); });
  // At midnight the chart's days move on: resubscribe (the ticket stream
  // resumes from its cursor).
  setInterval(function () {
    if (state.client && state.trendTo && trendVariables().to !== state.trendTo) connect();
  }, 60000);

  if (state.token) start();
  else signOut('');
})();
