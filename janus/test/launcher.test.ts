import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  CONFIG_TEMPLATE_DIR,
  JanusError,
  JanusSession,
  JanusStartError,
  renderConfigTemplate,
  startJanus,
  type RunningJanus,
} from '../src/index.ts';

const started: RunningJanus[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((janus) => janus.stop()));
});

describe('config templates', () => {
  test('values are typed and quoted; unset values drop their line; unknown names are errors', () => {
    const template = '# {{anything}} in a comment stays\ngeneral: {\n\tname = {{name}}\n\tport = {{port}}\n\ton = {{on}}\n\tstun = {{stun}}\n}';
    const rendered = renderConfigTemplate(template, { name: 'a "quoted" name', port: 8088, on: true, stun: undefined });
    expect(rendered).toBe(
      '# {{anything}} in a comment stays\ngeneral: {\n\tname = "a \\"quoted\\" name"\n\tport = 8088\n\ton = true\n}',
    );
    expect(() => renderConfigTemplate('x = {{typo}}', {})).toThrow(/unknown placeholder \{\{typo\}\}/);
  });

  test('ICE settings for real deployments land in the nat section', () => {
    const template = readFileSync(join(CONFIG_TEMPLATE_DIR, 'janus.jcfg'), 'utf8');
    const names = [...template.matchAll(/\{\{(\w+)\}\}/g)].map((match) => match[1]!);
    const values: Record<string, string | number | boolean | undefined> = Object.fromEntries(names.map((name) => [name, undefined]));
    Object.assign(values, {
      nat_1_1_mapping: '203.0.113.7',
      keep_private_host: false,
      stun_server: 'stun.example.org',
      stun_port: 3478,
      ice_enforce_list: 'veth-spaces',
      ice_ignore_list: 'docker',
      turn_server: 'turn.example.org',
      turn_port: 3478,
      turn_type: 'udp',
      turn_user: 'spaces',
      turn_pwd: 'secret',
      session_timeout: 60,
    });
    const nat = /nat: \{([^}]*)\}/.exec(renderConfigTemplate(template, values))![1]!;
    for (const line of [
      'nat_1_1_mapping = "203.0.113.7"',
      'stun_server = "stun.example.org"',
      'stun_port = 3478',
      'ice_enforce_list = "veth-spaces"',
      'ice_ignore_list = "docker"',
      'turn_server = "turn.example.org"',
      'turn_pwd = "secret"',
    ]) {
      expect(nat).toContain(line);
    }
  });
});

describe('startJanus', () => {
  test('runs Janus with only AudioBridge, Streaming and HTTP, listening on 127.0.0.1 alone', async () => {
    const janus = await startJanus({
      adminPort: await freePort(),
      adminSecret: 'admin-api-secret',
      audioBridgeLocalIp: '127.0.0.1',
      ice: { enforceList: 'lo' },
      // A prefix that execs, like `ip netns exec ns1`: the PID must still be Janus's own.
      spawnPrefix: ['env', 'SPACES_JANUS_TEST=1'],
    });
    started.push(janus);
    console.info(`janus ready after ${janus.readyAfterMs} ms (pid ${janus.pid})`);

    expect(readFileSync(`/proc/${janus.pid}/comm`, 'utf8').trim()).toBe('janus');
    expect(readFileSync(`/proc/${janus.pid}/environ`, 'utf8').split('\0')).toContain('SPACES_JANUS_TEST=1');

    const info = (await (await fetch(`${janus.httpUrl}/info`)).json()) as {
      plugins: Record<string, unknown>;
      transports: Record<string, unknown>;
      'session-timeout': number;
    };
    expect(Object.keys(info.plugins).sort()).toEqual(['janus.plugin.audiobridge', 'janus.plugin.streaming']);
    expect(Object.keys(info.transports)).toEqual(['janus.transport.http']);
    expect(info['session-timeout']).toBe(60);

    const admin = await fetch(janus.adminUrl!, {
      method: 'POST',
      body: JSON.stringify({ janus: 'list_sessions', transaction: 't', admin_secret: 'admin-api-secret' }),
    });
    expect(((await admin.json()) as { janus: string }).janus).toBe('success');

    const listening = tcpListenAddresses(janus.pid);
    expect(listening.length).toBe(2); // Janus API and admin API
    for (const address of listening) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);

    const config = readFileSync(join(janus.runDir, 'janus.jcfg'), 'utf8');
    expect(config).toContain('ice_enforce_list = "lo"');
    expect(config).toContain(`api_secret = ${JSON.stringify(janus.apiSecret)}`);
    expect(statSync(join(janus.runDir, 'janus.jcfg')).mode & 0o077).toBe(0);
    expect(config).toMatch(/disable = "[^"]*libjanus_videoroom\.so/);
    const audioBridge = readFileSync(join(janus.runDir, 'janus.plugin.audiobridge.jcfg'), 'utf8');
    expect(audioBridge).toContain(`admin_key = ${JSON.stringify(janus.adminKey)}`);
    expect(audioBridge).toContain('lock_rtp_forward = true');
    expect(audioBridge).toContain('local_ip = "127.0.0.1"');
    expect(statSync(join(janus.runDir, 'janus.plugin.audiobridge.jcfg')).mode & 0o077).toBe(0);

    const stoppedAt = performance.now();
    await janus.stop();
    console.info(`janus stopped in ${Math.round(performance.now() - stoppedAt)} ms`);
    expect(janus.exited).toBe(true);
    expect(existsSync(`/proc/${janus.pid}`)).toBe(false);
    expect(existsSync(janus.runDir)).toBe(false);
  });

  test('without an apiSecret option, each Janus gets a random api_secret of its own', async () => {
    const [one, two] = await Promise.all([startJanus({ streaming: false }), startJanus({ streaming: false })]);
    started.push(one, two);
    expect(one.apiSecret).toMatch(/^[\w-]{24,}$/);
    expect(two.apiSecret).toMatch(/^[\w-]{24,}$/);
    expect(one.apiSecret).not.toBe(two.apiSecret);
    for (const janus of [one, two]) {
      expect(readFileSync(join(janus.runDir, 'janus.jcfg'), 'utf8')).toContain(`api_secret = ${JSON.stringify(janus.apiSecret)}`);
    }
    const session = await JanusSession.create({ url: one.httpUrl, apiSecret: one.apiSecret });
    expect(await (await session.attachAudioBridge()).exists(1)).toBe(false);
    await session.destroy();
    // One Janus's secret opens nothing on the other.
    const refused = await JanusSession.create({ url: two.httpUrl, apiSecret: one.apiSecret }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 403, kind: 'unauthorized' });
    await Promise.all([one.stop(), two.stop()]);
  });

  test('with an api_secret, only clients that send it get a session', async () => {
    const janus = await startJanus({ apiSecret: 'api-secret', streaming: false });
    started.push(janus);
    const session = await JanusSession.create({ url: janus.httpUrl, apiSecret: 'api-secret' });
    const handle = await session.attachAudioBridge({ adminKey: janus.adminKey });
    expect(await handle.exists(1)).toBe(false);
    await session.destroy();
    const refused = await JanusSession.create({ url: janus.httpUrl }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(JanusError);
    expect(refused).toMatchObject({ code: 403, kind: 'unauthorized' });
    await janus.stop();
  });

  test('a Janus that cannot start fails fast with the tail of its log', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busyPort = (blocker.address() as { port: number }).port;
    try {
      const failure = await startJanus({ httpPort: busyPort }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(JanusStartError);
      expect((failure as JanusStartError).reason).toBe('exited');
      // Janus 1.1.2 logs "Couldn't start webserver" and exits 1, or sometimes segfaults on the way
      // out, losing its last buffered lines: either way we get its exit and what it did log.
      expect((failure as Error).message).toMatch(/^Janus exited \(code (1, signal null|null, signal SIGSEGV)\)/);
      expect((failure as Error).message).toContain('Last log lines:\nJanus version: 1102');
    } finally {
      blocker.close();
    }
  });
});

/** "ip:port" of each TCP socket the process listens on, from /proc (no `ss` needed). */
function tcpListenAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  const addresses: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9]!)) continue; // 0A: LISTEN
      const [hexIp, hexPort] = fields[1]!.split(':') as [string, string];
      const ip =
        table === 'tcp'
          ? hexIp.match(/../g)!.reverse().map((byte) => parseInt(byte, 16)).join('.')
          : `[${hexIp}]`; // any IPv6 listener fails the 127.0.0.1 check, as it should
      addresses.push(`${ip}:${parseInt(hexPort, 16)}`);
    }
  }
  return addresses;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
