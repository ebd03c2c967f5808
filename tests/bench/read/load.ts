/**
 * The read benchmark's load generator: a fixed number of requests in flight (one loop per slot,
 * each sending its next request as soon as the previous answer ends), over node:http keep-alive
 * connections (one per slot), in the benchmark's own process. node:http rather than fetch: the
 * client shares the machine's cores with the servers, so it should cost as little as possible.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Target {
  name: string;
  /** http://127.0.0.1:port */
  baseUrl: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The length of the verified answer: an answer of another length counts as an error. */
  expectedBytes: number;
}

export interface Window {
  /** Requests that ended between the two snapshots. */
  completed: number;
  seconds: number;
  /** Latency of each of those requests (ms). */
  latenciesMs: number[];
  errors: number;
  firstError: string | null;
}

function send(agent: Agent, url: URL, target: Target): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: target.path,
        method: 'POST',
        headers: { ...target.headers, 'content-type': 'application/json', 'content-length': String(target.body.length) },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(target.body);
  });
}

/**
 * Keeps `concurrency` requests in flight: `warmupMs` unmeasured, then `snapshot()` (the server's
 * counters), `measureMs` measured, `snapshot()` again, then lets the requests in flight end.
 * Resolves with what happened between the snapshots and both snapshots.
 */
export async function runWindow<S>(
  target: Target,
  concurrency: number,
  warmupMs: number,
  measureMs: number,
  snapshot: () => Promise<S>,
): Promise<{ window: Window; before: S; after: S }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const url = new URL(target.baseUrl);
  let measuring = false;
  let running = true;
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const fail = (what: string) => {
    errors++;
    firstError ??= what;
  };
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const started = performance.now();
      try {
        const { status, bytes } = await send(agent, url, target);
        if (status !== 200) fail(`HTTP ${status}`);
        else if (bytes !== target.expectedBytes) fail(`answer of ${bytes} bytes, expected ${target.expectedBytes}`);
        else if (measuring) latenciesMs.push(performance.now() - started);
      } catch (error) {
        fail(String(error));
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  });
  try {
    await new Promise((r) => setTimeout(r, warmupMs));
    const before = await snapshot();
    measuring = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, measureMs));
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const after = await snapshot();
    running = false;
    await Promise.all(loops);
    return { window: { completed: latenciesMs.length, seconds, latenciesMs, errors, firstError }, before, after };
  } finally {
    running = false;
    agent.destroy();
  }
}
