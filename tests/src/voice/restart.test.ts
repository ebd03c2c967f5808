import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort, startJanus, type RunningJanus } from '@spaces/janus';
import { createTestDatabase } from '../support/database.ts';

/**
 * An API that dies without hanging up (kill -9) leaves its Janus session behind; Janus must drop
 * it, its handles and its participants once the session timeout passes with no keepalive.
 */
let janus: RunningJanus;
const adminSecret = randomBytes(12).toString('hex');
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  janus = await startJanus({ sessionTimeoutSeconds: 3, adminPort: await findFreePort(), adminSecret });
  db = await createTestDatabase();
});
afterAll(async () => {
  await janus?.stop();
  await db?.drop();
});

async function sessions(): Promise<number[]> {
  const res = await fetch(janus.adminUrl!, {
    method: 'POST',
    body: JSON.stringify({ janus: 'list_sessions', transaction: randomBytes(6).toString('hex'), admin_secret: adminSecret }),
  });
  const body = (await res.json()) as { sessions?: number[] };
  return body.sessions ?? [];
}

describe('API crash', () => {
  it('leaves no Janus session behind once the session timeout has passed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/api-process.ts', import.meta.url).pathname], {
      env: { ...process.env, TEST_DB_URL: db.url, JANUS_URL: janus.httpUrl, JANUS_ADMIN_KEY: janus.adminKey, JANUS_API_SECRET: janus.apiSecret },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const participantId = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        const match = /ready (\S+)/.exec(String(d));
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`API process exited early (${code})`)));
    });
    expect((await sessions()).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    const killedAt = Date.now();
    await expect.poll(sessions, { timeout: 10_000, interval: 250 }).toEqual([]);
    // Gone by the timeout (3 s), not merely eventually.
    expect(Date.now() - killedAt).toBeLessThan(8_000);

    // The API comes back: it finds the host's audio gone from the room and says so.
    const { participants } = await import('@spaces/db');
    const { eq } = await import('drizzle-orm');
    const row = async () => (await db.handle.db.select().from(participants).where(eq(participants.id, participantId)))[0]!;
    expect((await row()).audioConnected).toBe(true);
    const { buildApp } = await import('@spaces/api');
    const app = await buildApp({
      database: db.handle,
      serveWeb: false,
      port: 0,
      host: '127.0.0.1',
      mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }],
    });
    try {
      await app.start();
      expect(await row()).toMatchObject({ audioConnected: false, mixerParticipantId: null });
    } finally {
      await app.stop();
    }
  }, 60_000);
});
