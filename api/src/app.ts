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
import { Dispatcher, Spaces } from './services/spaces/index.ts';
import { Mixer } from './services/mixer/mixer.ts';
import { createInProcessBus, createPostgresBus, type EventBus } from './pubsub.ts';
import { RateLimiter } from './lib/rate-limit.ts';
import { credentialsOf, isSameOrigin } from './plugins/cookies.ts';
import { useSessionCookie } from './plugins/useSessionCookie.ts';
import { useCsrf } from './plugins/useCsrf.ts';
import { useLimits } from './plugins/useLimits.ts';
import { useErrorCodes } from './plugins/useErrorCodes.ts';
import { serveWeb } from './web.ts';
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
function sendWithoutWaiting(socket: WebSocket) {
  const send = socket.send.bind(socket);
  socket.send = ((data: string, callback?: (error?: Error) => void) => {
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) socket.close(1013, 'Too slow: reconnect and refetch');
    else send(data);
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

function maskError(error: unknown, message: string): GraphQLError {
  if (error instanceof GraphQLError) {
    if (error.extensions?.code) return error;
    // Parse, validation and coercion errors: the request itself is wrong, say so. Tagged in
    // place (returning the same error keeps yoga from logging it as a masked failure).
    if (!error.originalError || error.originalError instanceof GraphQLError) {
      Object.assign(error, { extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } });
      return error;
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
  const spaces = new Spaces(database.db, dispatcher, config.hostGraceMs);
  const mixer = new Mixer(database.db, database.sql, spaces, dispatcher, config.mixers, {
    prebuffering: config.mixerPrebuffering,
    sweepMs: config.mixerSweepMs,
    allowPlainRtp: config.mixerPlainRtp,
  });
  const services: Services = {
    db: database.db,
    accounts: new Accounts(database.db, sessionTtlMs),
    follows: new Follows(database.db),
    spaces,
    mixer,
    events,
    limits: {
      signInByClient: new RateLimiter(config.rateLimits.signInPerMinutePerClient, 60_000),
      signInByHandle: new RateLimiter(config.rateLimits.signInPerMinutePerHandle, 60_000),
      signUp: new RateLimiter(config.rateLimits.signUpPerHourPerClient, 3_600_000),
      // Each connectAudio makes a Janus handle: reconnecting is normal, a storm is not.
      connectAudio: new RateLimiter(config.rateLimits.connectAudioPerMinutePerUser, 60_000),
    },
  };

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

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: { title: 'Spaces API', subscriptionsProtocol: 'WS' },
    cors: { origin: '*', credentials: false, allowedHeaders: ['content-type', 'authorization'] },
    // Unexpected errors reach clients as INTERNAL_SERVER_ERROR; the original goes to the log only.
    maskedErrors: { maskError },
    logging: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'error',
    plugins: [useCsrf(config.publicOrigins), ...useLimits(), useErrorCodes(), cookies.plugin],
    context: async (initial) => {
      const request = (initial as { request?: Request }).request;
      if (request) {
        const auth = await authenticate(request.headers, new URL(request.url).origin);
        if (request.headers.get('authorization') && !auth) throw unauthenticated('Invalid or expired token.');
        return buildContext(services, auth, clientKeyOf(request.headers), cookies.setFor(request));
      }
      // GraphQL over WebSocket: connectionParams.authToken, else the upgrade request's cookie.
      const { connectionParams, req } = initial as unknown as WsInitialContext;
      const headers = headersOf(req);
      const token = connectionParams?.authToken;
      const auth = typeof token === 'string' ? await services.accounts.authenticate(token) : await authenticate(headers);
      return buildContext(services, auth, clientKeyOf(headers));
    },
  });

  const web = options.serveWeb === false ? null : await serveWeb();
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
    if (path === '/healthz') {
      const ok = await database.db.execute('select 1').then(() => true, () => false);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      const voice = mixer.available ? mixer.status() : null;
      const degraded = !ok || !!voice?.instances.some((i) => !i.up);
      return res.end(JSON.stringify({ status: degraded ? 'degraded' : 'ok', database: ok, voice }));
    }
    if (web) return web(req, res);
    res.writeHead(404).end();
  });

  // GraphQL over WebSocket on the same path (graphql-transport-ws protocol).
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: 100_000 });
  wss.on('connection', sendWithoutWaiting);
  // Operations run through yoga's envelop, so limits, masking and context match HTTP.
  const wsServer = useServer<{ authToken?: unknown }, { request: IncomingMessage }>(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      // Each event is executed once per (document, variables[, viewer]) and the result shared.
      subscribe: (args) => subscribeShared(args, maskError) as never,
      onConnect: async (ctx) => {
        const token = ctx.connectionParams?.authToken;
        // A token that does not authenticate closes the socket (4403 Forbidden) instead of
        // silently continuing signed out.
        if (token !== undefined && (typeof token !== 'string' || !(await services.accounts.authenticate(token))))
          return false;
        return true;
      },
      onSubscribe: async (ctx, _id, params) => {
        // Each subscription holds a listener and a context: bound them per socket.
        // graphql-ws has already counted this one in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET)
          return [
            new GraphQLError(`At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per connection.`, {
              extensions: { code: 'RATE_LIMITED', retryAfterMs: 1000 },
            }),
          ];
        const initial: WsInitialContext = { connectionParams: ctx.connectionParams, req: ctx.extra.request, params };
        const enveloped = yoga.getEnveloped(initial as never);
        let document;
        let errors;
        // Limits (depth, aliases, cost, tokens) may throw from parse or validate: that answers
        // this operation with BAD_USER_INPUT and leaves the socket and its other operations alone.
        try {
          document = enveloped.parse(params.query);
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
      },
    },
    wss,
  );

  // Ends spaces whose host stayed away past the grace period (checked a few times per period).
  let janitor: NodeJS.Timeout | null = null;
  const sweepEvery = Math.max(250, Math.min(30_000, Math.floor(config.hostGraceMs / 4)));

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
      }, sweepEvery);
      janitor.unref();
      const { port } = server.address() as AddressInfo;
      app.url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
      return app.url;
    },
    async stop() {
      if (janitor) clearInterval(janitor);
      await mixer.stop();
      await wsServer.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (server.listening) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await events.close();
      if (ownsDatabase) await database.close();
    },
  };
  return app;
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(key, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(key, v);
  }
  return headers;
}

function clientKeyOf(headers: Headers): string {
  // Behind a trusted proxy the first X-Forwarded-For hop is the client; direct, it is absent.
  return headers.get('x-forwarded-for')?.split(',')[0]?.trim() || headers.get('x-real-ip') || 'direct';
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
