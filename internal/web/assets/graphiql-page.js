// socdesk's GraphiQL: queries and mutations over HTTP, subscriptions over
// graphql-ws on the same /graphql endpoint. The header editor starts with
// an Authorization header to complete with a token; GraphiQL keeps the
// headers in the browser's local storage. The same Authorization goes in
// the websocket's connection_init payload (a browser's upgrade request
// cannot carry headers).
(function () {
  'use strict';

  var endpoint = new URL('/graphql', location.href).href;
  var wsEndpoint = endpoint.replace(/^http/, 'ws');

  function authorization(headers) {
    for (var k in headers || {}) {
      if (k.toLowerCase() === 'authorization') return String(headers[k]);
    }
    return '';
  }

  // One websocket client per Authorization value: a new token closes the
  // old connection and the next subscription opens one with the new token.
  var ws = null;
  var wsAuth = null;
  function wsClient(auth) {
    if (ws && wsAuth === auth) return ws;
    if (ws) ws.dispose();
    wsAuth = auth;
    ws = graphqlWs.createClient({ url: wsEndpoint, connectionParams: { Authorization: auth }, retryAttempts: 2 });
    return ws;
  }

  function fetcher(params, opts) {
    var headers = (opts && opts.headers) || {};
    return GraphiQL.createFetcher({ url: endpoint, wsClient: wsClient(authorization(headers)) })(params, opts);
  }

  var defaultQuery = [
    '# Paste your token after "Bearer " in the Headers tab below, then run.',
    '# Subscriptions (ticketEvents, ticketTrend) run over websocket with the same token.',
    'query RecentTickets {',
    '  viewer { login }',
    '  tickets(first: 10) {',
    '    edges { node { number title status priority site { name } } }',
    '  }',
    '}',
    '',
    'subscription TicketChanges {',
    '  ticketEvents { cursor kind inView ticketNumber ticket { title status } }',
    '}',
    ''
  ].join('\n');

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: '{\n  "Authorization": "Bearer "\n}',
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: 'headers'
    })
  );
})();
