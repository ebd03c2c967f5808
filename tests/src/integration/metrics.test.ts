import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '@spaces/api';
import { createDb } from '@spaces/db';
import { findFreePort } from '@spaces/janus';
import { startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users } from '../support/spaces.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/** What an operator sees: Prometheus metrics, liveness and readiness. */
let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await startTestApp({ rateLimits: { requestToSpeakPerMinutePerUser: 2 } });
  base = await t.app.start();
});
afterAll(() => t?.close());

/** The value of one sample in Prometheus text format (0 when absent). */
async function sample(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('/metrics', () => {
  it('counts operations, errors by code, limits hit, events, live spaces, sockets and subscriptions', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const mutationsBefore = await sample('spaces_graphql_operations_total', '{type="mutation"}');
    const [host, guest] = await users(t, 2, 'me');
    const s = (await must(t, Q.create, { input: { title: 'Metrics', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    expect(await sample('spaces_graphql_operations_total', '{type="mutation"}')).toBeGreaterThanOrEqual(mutationsBefore + 3);
    expect(await sample('spaces_live_spaces')).toBeGreaterThanOrEqual(1);
    expect(await sample('spaces_events_published_total', '{topic="activity"}')).toBeGreaterThanOrEqual(1);

    const badBefore = await sample('spaces_graphql_errors_total', '{code="BAD_USER_INPUT"}');
    await t.gql('{ nope }');
    expect(await sample('spaces_graphql_errors_total', '{code="BAD_USER_INPUT"}')).toBe(badBefore + 1);

    await must(t, Q.join, { s }, guest);
    for (let i = 0; i < 3; i++) await t.gql(Q.raise, { s, r: i % 2 === 0 }, { token: guest!.token });
    expect(await sample('spaces_rate_limited_total', '{limit="user:requestToSpeak"}')).toBe(1);
    expect(await sample('spaces_graphql_errors_total', '{code="RATE_LIMITED"}')).toBeGreaterThanOrEqual(1);

    const client = wsClient(base);
    const sub = subscribe<any>(client, EVENTS, { s }, (d) => d.spaceEvents);
    await expect.poll(() => sample('spaces_subscriptions_active')).toBe(1);
    expect(await sample('spaces_websockets_open')).toBe(1);
    const delivered = await sample('spaces_events_delivered_total');
    await must(t, Q.leave, { s }, guest);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT');
    expect(await sample('spaces_events_delivered_total')).toBe(delivered + 1);
    await client.dispose();
    await expect.poll(() => sample('spaces_websockets_open')).toBe(0);
    expect(await sample('spaces_subscriptions_active')).toBe(0);
    // Process metrics come with it.
    expect(await sample('spaces_process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('liveness and readiness', () => {
  it('answers both when the database is there and no voice is configured', async () => {
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', database: true, voice: null });
  });

  it('is live but not ready while its only Janus is down, and reports the instance in both places', async () => {
    const db = await createDb({ url: t.databaseUrl, migrate: false });
    const port = await findFreePort();
    const app = await buildApp({
      database: db,
      serveWeb: false,
      port: 0,
      host: '127.0.0.1',
      mixers: [{ name: 'gone', url: `http://127.0.0.1:${port}/janus`, adminKey: 'k', apiSecret: 's' }],
      presenceGraceMs: 600_000, // as startTestApp's: its presence sweep sees the suite's participants too
    });
    try {
      const url = await app.start();
      expect((await fetch(`${url}/livez`)).status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'degraded', database: true, voice: { instances: [{ name: 'gone', up: false }] } });
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toContain('spaces_janus_up{instance="gone"} 0');
      expect(text).toMatch(/spaces_mixer_reconcile_failures_total \d+/);
    } finally {
      await app.stop();
      await db.close();
    }
  });
});

describe('who may read /metrics', () => {
  const TOKEN = 'metrics-token-for-tests';
  const get = (url: string, headers: Record<string, string> = {}) => fetch(`${url}/metrics`, { headers });

  it('loopback and private networks without a token; a proxied or public client only with METRICS_TOKEN', async () => {
    // Without TRUST_PROXY: a direct loopback client may; a request that came through a proxy may not.
    const open = await startTestApp({ metricsToken: TOKEN });
    try {
      const url = await open.app.start();
      expect((await get(url)).status).toBe(200);
      const proxied = await get(url, { 'x-forwarded-for': '10.1.2.3' });
      expect(proxied.status).toBe(403);
      expect(await proxied.text()).toMatch(/METRICS_TOKEN/);
      expect((await get(url, { forwarded: 'for=10.1.2.3' })).status).toBe(403);
      expect((await get(url, { 'x-forwarded-for': '203.0.113.9', authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      expect((await get(url, { 'x-forwarded-for': '203.0.113.9', authorization: 'Bearer wrong-token-of-same-len' })).status).toBe(403);
    } finally {
      await open.close();
    }
    // Behind a declared proxy: the client it vouches for decides.
    const proxiedApp = await startTestApp({ trustProxy: { addresses: ['loopback'] } });
    try {
      const url = await proxiedApp.app.start();
      expect((await get(url, { 'x-forwarded-for': '10.1.2.3' })).status).toBe(200);
      expect((await get(url, { 'x-forwarded-for': '192.168.7.7' })).status).toBe(200);
      expect((await get(url, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(403);
      expect((await get(url, { 'x-forwarded-for': '2001:db8::1' })).status).toBe(403);
      // No token configured: a bearer opens nothing.
      expect((await get(url, { 'x-forwarded-for': '203.0.113.9', authorization: 'Bearer anything-at-all-here' })).status).toBe(403);
    } finally {
      await proxiedApp.close();
    }
  });
});
