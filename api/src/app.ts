import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { createDb, type DbHandle } from '@spaces/db';
import { type Config, configFromEnv } from './config.ts';
import { buildContext, type Context, type Services } from './context.ts';
import { schema } from './schema/index.ts';
import { Accounts } from './services/accounts.ts';
import { Follows } from './services/follows.ts';
import { SpacesBars } from './services/bars.ts';
import { LiveSessions } from './services/live-sessions.ts';
import { Dispatcher, Spaces } from './services/spaces/index.ts';
import { Mixer } from './services/mixer/mixer.ts';
import { createInProcessBus, createPostgresBus, type EventBus } from './pubsub.ts';
import { memoryLimiterStore, postgresLimiterStore } from './lib/rate-limit.ts';
import { Limits } from './services/limits.ts';
import { clientKeyOf, compileTrust, isInternalClient } from './lib/client-address.ts';
import { capSocketsPerClient } from './lib/socket-cap.ts';
import { IceServers } from './services/ice.ts';
import { Profiles } from './services/profiles.ts';
import { Search } from './services/search.ts';
import { Notifications } from './services/notifications.ts';
import { Fleets, type Clock } from './services/fleets.ts';
import { Apps } from './services/apps.ts';
import { createMediaStore } from './services/media-storage.ts';
import { mediaHandler } from './media-http.ts';
import { oauthHandler } from './oauth-http.ts';
import { credentialsOf, isSameOrigin } from './plugins/cookies.ts';
import { useSessionCookie } from './plugins/useSessionCookie.ts';
import { useCsrf } from './plugins/useCsrf.ts';
import { useLimits } from './plugins/useLimits.ts';
import { useErrorCodes } from './plugins/useErrorCodes.ts';
import { useMetrics } from './plugins/useMetrics.ts';
import { useJit } from './plugins/useJit.ts';
import { usePersistedDocuments } from './plugins/usePersistedDocuments.ts';
import { Metrics } from './metrics.ts';
import { serveWeb } from './web.ts';
import { graphiqlPage } from './graphiql.ts';
import { docsHandler } from './docs-http.ts';
import { unauthenticated } from './errors.ts';
import { subscribeShared } from './lib/shared-execution.ts';

const MAX_SUBSCRIPTIONS_PER_SOCKET = 50;
/** A client this far behind on reading is closed (1013, try again later), not buffered for. */
const MAX_BUFFERED_BYTES = 1_000_000;

/**
 * graphql-ws waits for each message's write callback before the next one for that
 * subscription; with thousands of subscribers of one space that bookkeeping cost ~10 % of the
 * fan-out (tests/bench/fanout.ts). Here a send is handed to the socket and confirmed at once;
 * backpressure is instead a bound on what may wait unread per socket.
 */
function sendWithoutWaiting(socket: WebSocket, delivered: () => void) {
  const send = socket.send.bind(socket);
  socket.send = ((data: string, callback?: (error?: Error) => void) => {
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) socket.close(1013, 'Too slow: reconnect and refetch');
    else {
      send(data);
      // graphql-ws writes {"id":…,"type":"next",…}: a subscription result (or a query's) sent.
      if (data.lastIndexOf('"type":"next"', 80) !== -1) delivered();
    }
    callback?.();
  }) as typeof socket.send;
}

interface WsInitialContext {
  connectionParams?: Record<string, unknown> | Readonly<Record<string, unknown>>;
  req: IncomingMessage;
  params: unknown;
}
interface EnvelopedRoot {
  execute: (args: unknown) => unknown;
  subscribe: (args: unknown) => unknown;
}

function toGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) {
    return new GraphQLError(error.message, { extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } });
  }
  return new GraphQLError('Could not parse the query.', { extensions: { code: 'BAD_USER_INPUT' } });
}

export interface BuildAppOptions extends Partial<Omit<Config, 'rateLimits'>> {
  /** Overrides of single limits; the others keep their defaults. */
  rateLimits?: Partial<Config['rateLimits']>;
  /** An open database to use instead of opening one from the config (tests share one). */
  database?: DbHandle;
  /** Serve the built PWA (default true). */
  serveWeb?: boolean;
  /**
   * The clock fleet expiry reads (epoch ms; default Date.now): tests move it to the 24-hour
   * boundary instead of waiting.
   */
  clock?: Clock;
  /** How often a fleets bar subscription re-checks expiry at the latest (default 60 s; the clock may jump in tests). */
  fleetExpiryCheckMs?: number;
}

export interface App {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  services: Services;
  server: Server;
  /** Listens on config.port (0 = any free port); resolves with the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
  url: string | null;
}

/** Whether an Authorization header carries this bearer token (compared in constant time); false without one. */
function bearerMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header?.startsWith('Bearer ')) return false;
  const given = createHash('sha256').update(header.slice(7)).digest();
  return timingSafeEqual(given, createHash('sha256').update(token).digest());
}

function maskError(error: unknown, message: string): GraphQLError {
  if (error instanceof GraphQLError) {
    if (error.extensions?.code) return error;
    // Parse, validation and coercion errors: the request itself is wrong, say so. Tagged in
    // place (returning the same error keeps yoga from logging it as a masked failure).
    if (!error.originalError || error.originalError instanceof GraphQLError) {
      const extensions = { ...error.extensions, code: 'BAD_USER_INPUT' };
      try {
        Object.assign(error, { extensions });
        return error;
      } catch {
        // Some errors (graphql-jit's variable coercion) have read-only fields: the same error, copied.
      }
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        originalError: error.originalError,
        extensions,
      });
    }
  }
  // Anything else is ours: yoga logs the original; the client gets no details.
  return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

export async function buildApp(options: BuildAppOptions = {}): Promise<App> {
  const defaults = configFromEnv();
  const config: Config = {
    ...defaults,
    ...stripUndefined(options),
    rateLimits: { ...defaults.rateLimits, ...stripUndefined(options.rateLimits ?? {}) },
  };
  const database = options.database ?? (await createDb({ url: config.databaseUrl, dataDir: config.dataDir }));
  const ownsDatabase = !options.database;
  const events: EventBus =
    config.pubsub === 'postgres' && database.sql ? await createPostgresBus(database.sql) : createInProcessBus();

  const sessionTtlMs = config.sessionTtlDays * 86_400_000;
  // Everything a committed change causes (events, spaces-bar activity, rooms to reconcile) leaves here.
  const dispatcher = new Dispatcher(events);
  // Limit counters live where every instance sees them: PostgreSQL, or memory with PGlite.
  const limiterUrl = database.kind === 'postgres' ? (database.url ?? config.databaseUrl) : undefined;
  const limits = new Limits(limiterUrl ? await postgresLimiterStore(limiterUrl) : memoryLimiterStore(), config.rateLimits);
  const spaces = new Spaces(database.db, dispatcher, config.hostGraceMs, limits.reaction, config.presenceGraceMs);
  const mixer = new Mixer(database.db, database.sql, spaces, dispatcher, config.mixers, {
    prebuffering: config.mixerPrebuffering,
    sweepMs: config.mixerSweepMs,
    allowPlainRtp: config.mixerPlainRtp,
    listenerSeats: config.mixerListenerSeats,
  });
  const metrics = new Metrics(database.db, mixer);
  limits.store.onRefused = (name) => metrics.limited.inc({ limit: name });
  // Every publish, whichever service makes it, is counted by topic.
  const publish = events.pubsub.publish.bind(events.pubsub) as (topic: string, ...rest: unknown[]) => void;
  events.pubsub.publish = ((topic: string, ...rest: unknown[]) => {
    metrics.published.inc({ topic });
    publish(topic, ...rest);
  }) as typeof events.pubsub.publish;
  const follows = new Follows(database.db);
  // The notices of committed changes (dispatcher effects) become notifications here.
  const notifications = new Notifications(database.db, events.pubsub);
  dispatcher.onNotice((notice) => notifications.deliver(notice));
  // Sockets by session: a revoked session (on any instance: the `session` topic) or an expired
  // one closes them.
  const liveSessions = new LiveSessions(events.pubsub);
  const media = createMediaStore(config);
  const clock = options.clock ?? Date.now;
  // Upload ids must verify on every instance: with no UPLOAD_SECRET, the database's URL (shared by
  // all instances of a deployment) is the key's seed.
  const uploadSecret =
    options.uploadSecret ??
    (!process.env.UPLOAD_SECRET && database.url
      ? createHash('sha256').update(`spaces-upload-secret\n${database.url}`).digest('base64url')
      : config.uploadSecret);
  const services: Services = {
    db: database.db,
    accounts: new Accounts(database.db, sessionTtlMs, (sessionId) =>
      events.pubsub.publish('session', { sessionId, at: new Date().toISOString() }),
    ),
    follows,
    spaces,
    mixer,
    events,
    bars: new SpacesBars(events.pubsub, spaces, follows),
    ice: new IceServers(config.ice),
    limits,
    profiles: new Profiles(database.db, media, limits),
    search: new Search(database.db),
    notifications,
    // Personal access tokens and OAuth apps; revoking any token closes its sockets like signOut.
    apps: new Apps(database.db, (ids) => services.accounts.revokeSessions(ids)),
    fleets: new Fleets(database.db, media, events.pubsub, limits, notifications, {
      clock,
      uploadSecret,
      expiryCheckMs: options.fleetExpiryCheckMs ?? 60_000,
      liveSpaceOf: async (userId) => (await spaces.liveSpacesOf([userId]))[0] ?? null,
      spaceById: async (spaceId) => (await spaces.byIds([spaceId]))[0] ?? null,
    }),
  };

  // Who the client is, for limits: the peer address, or per TRUST_PROXY (lib/client-address.ts).
  // A WebSocket's key is taken once at the upgrade (its socket's address is gone once closed).
  const trust = compileTrust(config.trustProxy);
  const socketKeys = new WeakMap<IncomingMessage, string>();
  const keyOfRequest = (req: IncomingMessage | undefined) => (req && socketKeys.get(req)) ?? clientKeyOf(req, trust);

  const cookies = useSessionCookie({
    secure: config.publicOrigins.some((o) => o.startsWith('https:')),
    maxAgeSeconds: sessionTtlMs / 1000,
  });

  const authenticate = async (headers: Headers, requestOrigin?: string) => {
    const credentials = credentialsOf(headers);
    if (!credentials) return null;
    // Cookie sessions only count on our own origin (see useCsrf for the HTTP side).
    if (credentials.via === 'cookie' && !isSameOrigin(headers, config.publicOrigins, requestOrigin)) return null;
    return services.accounts.authenticate(credentials.token);
  };

  const graphiql = graphiqlPage();
  // Trusted documents: the PWA sends only hashes of its build's operations (usePersistedDocuments.ts).
  const persistedDocuments = usePersistedDocuments();
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: { title: 'Spaces API', subscriptionsProtocol: 'WS' },
    // GraphiQL from the installed package, not a CDN, under a strict CSP (graphiql.ts).
    renderGraphiQL: graphiql.render,
    // Third-party web apps call with bearer tokens (never cookies) and may name themselves.
    cors: { origin: '*', credentials: false, allowedHeaders: ['content-type', 'authorization', 'graphql-client-name', 'graphql-client-version'] },
    // The body's size is bounded before yoga sees it: POST needs a Content-Length (411 below) and
    // useLimits refuses one over MAX_BODY_BYTES (413); node's parser reads exactly that many bytes.
    // yoga's own limit would pipe every body through a TransformStream and rebuild the Request
    // (7 % of a read's CPU on tests/bench/read.ts) to enforce 25 MB again.
    maxRequestBodySize: false,
    // Unexpected errors reach clients as INTERNAL_SERVER_ERROR; the original goes to the log only.
    maskedErrors: { maskError },
    logging: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'error',
    plugins: [useCsrf(config.publicOrigins), ...useLimits(), useErrorCodes(), useMetrics(metrics), ...useJit({ trusts: persistedDocuments.trusts }), cookies.plugin, graphiql.plugin, ...persistedDocuments.plugins],
    context: async (initial) => {
      const request = (initial as { request?: Request }).request;
      if (request) {
        const auth = await authenticate(request.headers, new URL(request.url).origin);
        if (request.headers.get('authorization') && !auth) throw unauthenticated('Invalid or expired token.');
        const req = (initial as { req?: IncomingMessage }).req;
        return buildContext(services, auth, keyOfRequest(req), cookies.setFor(request));
      }
      // GraphQL over WebSocket: connectionParams.authToken (or authorization: 'Bearer …'), else
      // the upgrade request's cookie.
      const { connectionParams, req } = initial as unknown as WsInitialContext;
      const headers = headersOf(req);
      const token = socketToken(connectionParams);
      const auth = typeof token === 'string' ? await services.accounts.authenticate(token) : await authenticate(headers);
      return buildContext(services, auth, keyOfRequest(req));
    },
  });

  const web = options.serveWeb === false ? null : await serveWeb();
  const mediaHttp = mediaHandler(services, config.publicOrigins);
  const oauthHttp = oauthHandler(services, config.publicOrigins, keyOfRequest);
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/graphql' || path?.startsWith('/graphql/')) {
      // The body limit is checked on Content-Length (useLimits); a streamed body without one
      // could grow unbounded before parsing, so it is refused outright.
      if (req.method === 'POST' && req.headers['content-length'] === undefined) {
        res.writeHead(411, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ errors: [{ message: 'Content-Length required.', extensions: { code: 'BAD_USER_INPUT' } }] }));
      }
      return yoga(req, res);
    }
    // Liveness: the process serves requests. Readiness: it can do its work — the database
    // answers, and voice has at least one Janus when any is configured (each one's state is in
    // the body; one down still leaves the others serving). /healthz is readiness, as before.
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ status: 'ok' }));
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = await database.db.execute('select 1').then(() => true, () => false);
      const voice = mixer.available ? mixer.status() : null;
      const voiceOk = !voice || voice.instances.some((i) => i.up);
      res.writeHead(ok && voiceOk ? 200 : 503, { 'content-type': 'application/json' });
      const degraded = !ok || !!voice?.instances.some((i) => !i.up);
      return res.end(JSON.stringify({ status: degraded ? 'degraded' : 'ok', database: ok, voice }));
    }
    // Uploaded media (avatars) and the avatar upload: media-http.ts.
    if (path?.startsWith('/media/')) return mediaHttp(req, res, path);
    // OAuth 2.1 token, revocation and metadata endpoints for apps: oauth-http.ts.
    if ((path?.startsWith('/oauth/') || path?.startsWith('/.well-known/')) && (await oauthHttp(req, res, path))) return;
    // docs/api.md for third-party developers: docs-http.ts.
    if (path === '/docs/api') return docsHandler(req, res);
    if (path === '/metrics') {
      // Operational figures are not for everyone: the machine and private networks (Prometheus),
      // or anyone with METRICS_TOKEN.
      if (!isInternalClient(req, trust, config.trustProxy !== false) && !bearerMatches(req.headers.authorization, config.metricsToken)) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
        return res.end('/metrics answers on loopback and private networks, or with Authorization: Bearer <METRICS_TOKEN>.\n');
      }
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      return res.end(await metrics.registry.metrics());
    }
    if (web) return web(req, res);
    res.writeHead(404).end();
  });

  // GraphQL over WebSocket on the same path (graphql-transport-ws protocol).
  // At most MAX_SOCKETS_PER_CLIENT open sockets per client address: past it, HTTP 429.
  const socketCap = capSocketsPerClient(config.maxSocketsPerClient, (req) => {
    const key = clientKeyOf(req, trust);
    socketKeys.set(req, key);
    return key;
  });
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: 100_000, verifyClient: socketCap.verifyClient });
  wss.on('connection', (socket) => {
    sendWithoutWaiting(socket, () => metrics.delivered.inc());
    metrics.sockets.inc();
    socket.once('close', () => metrics.sockets.dec());
  });
  // Subscriptions per socket, counted when scraped.
  const wsContexts = new Set<{ subscriptions: Record<string, unknown> }>();
  metrics.activeSubscriptions = () => {
    let n = 0;
    for (const ctx of wsContexts) n += Object.keys(ctx.subscriptions).length;
    return n;
  };
  // The event bus lost its LISTEN connection and has it back (e.g. PostgreSQL restarted): events
  // published meanwhile never reached this instance's subscriptions. Close every socket with 1012
  // (Service Restart), which graphql-ws clients retry: they reconnect, resubscribe (spacesBar
  // sends a fresh bar) and refetch what they show (the PWA does on every reconnect).
  const stopMissedEvents = events.onMissedEvents(() => {
    for (const client of wss.clients) client.close(1012, 'Events may have been missed: reconnect and refetch');
  });
  // Operations run through yoga's envelop, so limits, masking and context match HTTP.
  const wsServer = useServer<{ authToken?: unknown; authorization?: unknown }, { request: IncomingMessage }>(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      // Each event is executed once per (document, variables[, viewer]) and the result shared.
      subscribe: (args) => subscribeShared(args, maskError) as never,
      onClose: (ctx) => {
        wsContexts.delete(ctx);
      },
      onConnect: retryOnFailure(async (ctx) => {
        const token = socketToken(ctx.connectionParams);
        // A token that does not authenticate closes the socket (4403 Forbidden) instead of
        // silently continuing signed out.
        if (token !== undefined && typeof token !== 'string') return false;
        const auth =
          token !== undefined ? await services.accounts.authenticate(token) : await authenticate(headersOf(ctx.extra.request));
        if (token !== undefined && !auth) return false;
        // The socket lives as long as its session: signing out or expiry closes it (4403).
        const { socket } = ctx.extra;
        if (auth && socket.readyState === socket.OPEN) {
          const forget = liveSessions.track(auth.sessionId, auth.expiresAt, () => socket.close(4403, 'Forbidden'));
          socket.once('close', forget);
        }
        return true;
      }, false),
      onSubscribe: retryOnFailure(async (ctx, _id, params) => {
        // Each subscription holds a listener and a context: bound them per socket.
        // graphql-ws has already counted this one in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET)
          return [
            new GraphQLError(`At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per connection.`, {
              extensions: { code: 'RATE_LIMITED', retryAfterMs: 1000 },
            }),
          ];
        wsContexts.add(ctx);
        const initial: WsInitialContext = { connectionParams: ctx.connectionParams, req: ctx.extra.request, params };
        const enveloped = yoga.getEnveloped(initial as never);
        // A trusted document's hash (the PWA sends nothing else), or a full document from other clients.
        const source = persistedDocuments.socketSource(params, ctx.connectionParams, ctx.extra.request);
        if (source instanceof GraphQLError) return [source];
        let document;
        let errors;
        // Limits (depth, aliases, cost, tokens) may throw from parse or validate: that answers
        // this operation with BAD_USER_INPUT and leaves the socket and its other operations alone.
        try {
          document = enveloped.parse(source);
          errors = enveloped.validate(enveloped.schema, document);
        } catch (error) {
          return [toGraphQLError(error)];
        }
        if (errors.length > 0) return errors;
        return {
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      }, [new GraphQLError('Try again later.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })]),
    },
    wss,
  );

  // Ends spaces whose host stayed away past the grace period (checked a few times per period).
  let janitor: NodeJS.Timeout | null = null;
  const sweepEvery = Math.max(250, Math.min(30_000, Math.floor(config.hostGraceMs / 4)));
  // Presence: every beat this instance records whom its subscriptions see, samples listener peaks,
  // and makes those nobody saw for PRESENCE_GRACE_MS leave (presence.ts). One run at a time.
  let presenceBeat: NodeJS.Timeout | null = null;
  let beating: Promise<void> | null = null;
  const beat = () => {
    beating ??= (async () => {
      try {
        await services.spaces.presence.beat();
        await services.spaces.recaps.sample();
        await services.spaces.sweepPresence();
      } catch (error) {
        console.error('[presence]', error);
      } finally {
        beating = null;
      }
    })();
    return beating;
  };

  const app: App = {
    yoga,
    services,
    server,
    url: null,
    async start() {
      if (app.url) return app.url;
      await mixer.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      janitor = setInterval(() => {
        services.spaces.endAbandoned().catch((error) => console.error('[janitor]', error));
        // Notifications past their retention period (at most one delete an hour per instance).
        services.notifications.pruneIfDue().catch((error) => console.error('[janitor] notifications', error));
        // OAuth codes, refresh tokens and token rows a day past expiry (at most once an hour).
        services.apps.sweepIfDue().catch((error) => console.error('[janitor] tokens', error));
        // Guest accounts nobody uses any more (no session, or a day old) and in no space (once a minute).
        services.accounts.sweepStaleGuests().catch((error) => console.error('[janitor]', error));
        // Expired fleets and their photos, and fleet photos never posted (reads never wait for this).
        services.fleets.sweep().catch((error) => console.error('[janitor] fleets', error));
      }, sweepEvery);
      janitor.unref();
      // Scheduled spaces coming within a day of their start join their followers' bars.
      services.bars.watchScheduleWindow((from, to) => services.spaces.hostsStartingBetween(from, to));
      presenceBeat = setInterval(() => void beat(), services.spaces.presence.beatMs);
      presenceBeat.unref();
      const { port } = server.address() as AddressInfo;
      app.url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
      return app.url;
    },
    async stop() {
      if (janitor) clearInterval(janitor);
      if (presenceBeat) clearInterval(presenceBeat);
      await beating;
      dispatcher.close();
      await dispatcher.noticesSettled();
      await mixer.stop();
      services.bars.close();
      liveSessions.close();
      stopMissedEvents();
      await wsServer.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (server.listening) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await events.close();
      await limits.close();
      if (ownsDatabase) await database.close();
    },
  };
  return app;
}

/**
 * graphql-ws closes the socket with 4500 when a hook throws, and graphql-ws clients (the PWA's
 * too) never retry after 4500: they stay disconnected. A hook throws when the database is briefly
 * unreachable (authentication or the context need it; seen while PostgreSQL restarted, in
 * tests/src/faults/postgres-restart.test.ts), which is no reason to give up. So a failing hook
 * closes the socket with 1013 (Try Again Later) instead: the client reconnects and resubscribes.
 */
function retryOnFailure<A extends [{ extra: { socket: WebSocket } }, ...unknown[]], R>(
  hook: (...args: A) => Promise<R>,
  failed: R,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await hook(...args);
    } catch (error) {
      console.error('[ws] a connection could not be served (closed with 1013: retry)', error);
      args[0].extra.socket.close(1013, 'Try again later');
      return failed;
    }
  };
}

/**
 * The token a graphql-ws client sent in its connection params: `authToken`, or `authorization`
 * as an HTTP header would carry it (`Bearer …`). undefined: none (the cookie then counts);
 * anything else that is not a string refuses the connection.
 */
function socketToken(params: Record<string, unknown> | Readonly<Record<string, unknown>> | undefined): unknown {
  if (params?.authToken !== undefined) return params.authToken;
  const header = params?.authorization;
  if (header === undefined) return undefined;
  if (typeof header !== 'string') return header;
  return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? '';
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(key, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(key, v);
  }
  return headers;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
