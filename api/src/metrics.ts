import { and, count, eq } from 'drizzle-orm';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { spaces, type Database } from '@spaces/db';
import type { Mixer } from './services/mixer/mixer.ts';

/**
 * What an operator scrapes at /metrics (Prometheus text format, prom-client). One registry per
 * app, so several apps in one process (tests) keep their own numbers.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly operations = new Counter({
    name: 'spaces_graphql_operations_total',
    help: 'GraphQL operations executed, by type (query, mutation, subscription).',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'spaces_graphql_errors_total',
    help: 'Errors answered to clients, by contract code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly limited = new Counter({
    name: 'spaces_rate_limited_total',
    help: 'Requests refused by an abuse limit, by limit.',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly sockets = new Gauge({ name: 'spaces_websockets_open', help: 'Open GraphQL WebSockets on this instance.', registers: [this.registry] });
  /** Set by the WebSocket server: how many subscriptions are active now. */
  activeSubscriptions: () => number = () => 0;
  readonly published = new Counter({
    name: 'spaces_events_published_total',
    help: 'Events published to the pub/sub, by topic.',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'spaces_events_delivered_total',
    help: 'Subscription results sent to WebSocket clients by this instance.',
    registers: [this.registry],
  });

  constructor(db: Database, mixer: Mixer) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'spaces_' });
    new Gauge({
      name: 'spaces_live_spaces',
      help: 'Live spaces (all instances).',
      registers,
      async collect() {
        const [row] = await db.select({ n: count() }).from(spaces).where(and(eq(spaces.state, 'LIVE')));
        this.set(row?.n ?? 0);
      },
    });
    const active = () => this.activeSubscriptions();
    new Gauge({
      name: 'spaces_subscriptions_active',
      help: 'Active GraphQL subscriptions on this instance.',
      registers,
      collect() {
        this.set(active());
      },
    });
    new Gauge({
      name: 'spaces_audio_connections',
      help: 'Audio connections (Janus handles) this instance holds.',
      registers,
      collect() {
        this.set(mixer.held().size);
      },
    });
    new Gauge({
      name: 'spaces_janus_up',
      help: 'Whether each configured Janus instance is connected (1) or not (0).',
      labelNames: ['instance'] as const,
      registers,
      collect() {
        for (const i of mixer.status().instances) this.set({ instance: i.name }, i.up ? 1 : 0);
      },
    });
    const reconcile = (name: string, help: string, key: 'runs' | 'operations' | 'repairs' | 'failures') =>
      new Counter({
        name: `spaces_mixer_reconcile_${name}_total`,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(mixer.status().reconcile[key]);
        },
      });
    reconcile('runs', 'Rooms compared with the database.', 'runs');
    reconcile('operations', 'Requests sent to make Janus match the database.', 'operations');
    reconcile('repairs', 'Drift found by the periodic sweep and repaired.', 'repairs');
    reconcile('failures', 'Reconciliations that failed (retried).', 'failures');
  }
}
