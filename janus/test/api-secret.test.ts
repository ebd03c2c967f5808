// startJanus() always sets Janus's api_secret. Here another local process, which can reach
// 127.0.0.1 but does not know the secret, tries the Janus API over plain HTTP as an attacker would.
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { JanusSession, startJanus, type AudioBridgeHandle, type RunningJanus } from '../src/index.ts';

const ROOM_SECRET = 'moderator-secret';

let janus: RunningJanus;
let session: JanusSession;
let admin: AudioBridgeHandle;
let room: number;

beforeAll(async () => {
  janus = await startJanus({ streaming: false }); // no apiSecret given: a random one
  session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret });
  admin = await session.attachAudioBridge({ adminKey: janus.adminKey });
  ({ room } = await admin.create({ description: 'private talk', secret: ROOM_SECRET }));
});

afterAll(async () => {
  await session?.destroy().catch(() => {});
  await janus?.stop();
});

interface Reply {
  janus: string;
  session_id?: number;
  data?: { id: number };
  error?: { code: number; reason: string };
  plugindata?: { data: Record<string, unknown> };
}

/** A raw POST, as curl would send it: no client library, nothing the attacker does not know. */
async function post(path: string, body: Record<string, unknown>): Promise<{ status: number; reply: Reply }> {
  const response = await fetch(janus.httpUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ transaction: `t${Math.random()}`, ...body }),
  });
  return { status: response.status, reply: (await response.json()) as Reply };
}

const UNAUTHORIZED = { janus: 'error', error: { code: 403, reason: 'Unauthorized request (wrong or missing secret/token)' } };

describe('the Janus API, as an attacker would use it over HTTP', () => {
  test('without the api secret, or with a wrong one, Janus refuses to create a session (403)', async () => {
    for (const secret of [{}, { apisecret: 'wrong' }, { apisecret: '' }, { apisecret: janus.adminKey }]) {
      const { status, reply } = await post('', { janus: 'create', ...secret });
      // Janus answers over HTTP 200 with its own error in the body.
      expect(status).toBe(200);
      expect(reply).toMatchObject(UNAUTHORIZED);
      expect(reply.data).toBeUndefined();
    }
  });

  test('even knowing a live session and handle ID, it cannot attach, list, join or listen in', async () => {
    // The worst case: the IDs of the API's own session and handle leaked somehow.
    const base = `/${session.id}/${admin.id}`;
    for (const body of [
      { janus: 'message', body: { request: 'list' } },
      { janus: 'message', body: { request: 'listparticipants', room } },
      { janus: 'message', body: { request: 'join', room, display: 'eavesdropper' } },
      { janus: 'message', body: { request: 'rtp_forward', room, host: '127.0.0.1', port: 9, admin_key: janus.adminKey } },
    ]) {
      expect((await post(base, { ...body, apisecret: 'wrong' })).reply).toMatchObject(UNAUTHORIZED);
      expect((await post(base, body)).reply).toMatchObject(UNAUTHORIZED);
    }
    expect((await post(`/${session.id}`, { janus: 'attach', plugin: 'janus.plugin.audiobridge' })).reply).toMatchObject(
      UNAUTHORIZED,
    );
    // The session's event long poll: an empty HTTP 403 (not a JSON error) without the secret.
    const poll = await fetch(`${janus.httpUrl}/${session.id}?maxev=1`);
    expect(poll.status).toBe(403);
    expect(await poll.text()).toBe('');

    expect(await admin.listParticipants(room)).toEqual([]);
    expect(await admin.listForwarders(room, { secret: ROOM_SECRET })).toEqual([]);
    expect(session.isOpen).toBe(true); // the API's session is unharmed
  });

  test('with the right secret the same requests work', async () => {
    const { reply: created } = await post('', { janus: 'create', apisecret: janus.apiSecret });
    expect(created.janus).toBe('success');
    const sessionId = created.data!.id;
    const { reply: attached } = await post(`/${sessionId}`, {
      janus: 'attach',
      plugin: 'janus.plugin.audiobridge',
      apisecret: janus.apiSecret,
    });
    expect(attached.janus).toBe('success');
    const { reply: listed } = await post(`/${sessionId}/${attached.data!.id}`, {
      janus: 'message',
      body: { request: 'list' },
      apisecret: janus.apiSecret,
    });
    expect(listed.plugindata!.data.list).toContainEqual(expect.objectContaining({ room, description: 'private talk' }));
    const { reply: joining } = await post(`/${sessionId}/${attached.data!.id}`, {
      janus: 'message',
      body: { request: 'join', room, display: 'insider' },
      apisecret: janus.apiSecret,
    });
    expect(joining.janus).toBe('ack'); // join is asynchronous; its event goes to the long poll
    await expect.poll(() => admin.listParticipants(room), { timeout: 3000 }).toContainEqual(
      expect.objectContaining({ display: 'insider' }),
    );
    expect((await post(`/${sessionId}`, { janus: 'destroy', apisecret: janus.apiSecret })).reply.janus).toBe('success');
  });

  test('GET /janus/info (and ping) answer without the secret, as Janus serves them to anyone', async () => {
    // Observed with Janus 1.1.2: the core exempts "info" and "ping" from api_secret checks. /info
    // tells the version and the plugins and transports loaded (hide_dependencies hides library
    // versions); it opens nothing: no session, no room names.
    for (const url of [`${janus.httpUrl}/info`, `${janus.httpUrl}/info?apisecret=wrong`]) {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      const info = (await response.json()) as { janus: string; version_string: string; plugins: Record<string, unknown> };
      expect(info.janus).toBe('server_info');
      expect(info.version_string).toMatch(/^\d+\.\d+\.\d+/);
      expect(Object.keys(info.plugins)).toEqual(['janus.plugin.audiobridge']);
      const text = JSON.stringify(info);
      expect(text).not.toContain(janus.apiSecret);
      expect(text).not.toContain(janus.adminKey);
      expect(text).not.toContain('private talk');
    }
    expect((await post('', { janus: 'ping' })).reply.janus).toBe('pong');
  });
});

describe('JanusSession sends the secret', () => {
  test('with every request: create, attach, messages, keepalives, long polls and destroy', async () => {
    const requests: { method: string; url: string; body: Record<string, unknown> | undefined }[] = [];
    const realFetch = globalThis.fetch;
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
      requests.push({ method: init?.method ?? 'GET', url: String(input), body });
      return realFetch(input, init);
    });
    try {
      const own = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret, keepaliveIntervalMs: 100 });
      const handle = await own.attachAudioBridge();
      await handle.join({ room, display: 'checked' }); // answered through the long poll
      await new Promise((resolve) => setTimeout(resolve, 350)); // a few keepalives
      await handle.leave();
      await own.destroy();
    } finally {
      spy.mockRestore();
    }
    const kinds = new Set<string>();
    for (const request of requests) {
      if (request.method === 'POST') {
        kinds.add(String(request.body!.janus));
        expect(request.body!.apisecret, `${request.body!.janus} to ${request.url}`).toBe(janus.apiSecret);
      } else {
        kinds.add('poll');
        expect(new URL(request.url).searchParams.get('apisecret'), request.url).toBe(janus.apiSecret);
      }
    }
    expect([...kinds].sort()).toEqual(['attach', 'create', 'destroy', 'keepalive', 'message', 'poll']);
  });
});
