/**
 * Signalling latency (`pnpm bench`, or `cd tests && bash ../scripts/netns.sh npx tsx bench/signalling.ts`):
 * what the API itself adds to joining a space's audio, without any browser. PostgreSQL
 * (startCluster), a private Janus (ICE on the namespace's spaces0) and the API in this process;
 * each request is one HTTP POST to /graphql on 127.0.0.1, timed from send to parsed reply.
 *
 * BENCH_SIGNALLING_USERS (30) listeners each: joinSpace, iceServers, then listenAudio (the
 * audience tier: Janus's offer back), then answerAudio. Baseline in the same run: connectAudio with a complete
 * offer (the AudioBridge path every listener used before the audience tier), for as many other
 * users. The first 3 of each are warm-up and not counted.
 */
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { startCluster, type Cluster } from '../src/support/postgres-cluster.ts';
import { fakeAnswerTo, fakeOffer } from '../src/support/sdp.ts';
import { distribution, fmt, table } from './voice/measure.ts';
import { timedGraphQL } from './api-client.ts';
import { boundRun } from './bounds.ts';

const USERS = Number(process.env.BENCH_SIGNALLING_USERS ?? 30);
const WARMUP = 3;
const log = (...args: unknown[]) => console.log('[signalling]', ...args);
let cluster: Cluster | undefined;
let database: DbHandle | undefined;
let janus: RunningJanus | undefined;
let app: App | undefined;
async function cleanup() {
  await app?.stop().catch(() => {});
  await database?.close().catch(() => {});
  await janus?.stop().catch(() => {});
  await cluster?.stop().catch(() => {});
}
const bound = boundRun({ timeoutMs: 180_000, cleanup, log, onTimeout: () => {} });

const gql = (query: string, variables: Record<string, unknown>, token?: string) => timedGraphQL(app!.url!, query, variables, token);

try {
  cluster = await startCluster();
  [database, janus] = await Promise.all([createDb({ url: cluster.url, maxConnections: 20 }), startJanus({ ice: { enforceList: 'spaces0' } })]);
  app = await buildApp({
    database,
    serveWeb: false,
    port: 0,
    host: '127.0.0.1',
    mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }],
    // Every listener here gets a mixer seat on the baseline path.
    mixerListenerSeats: USERS + 10,
    rateLimits: { signUpPerHourPerClient: 100_000, connectAudioPerMinutePerUser: 1000, joinLeavePerMinutePerUser: 1000 },
    // Participants here are HTTP-only (fake SDP, no subscription): none leaves for going unseen during a run.
    presenceGraceMs: 3_600_000,
  });
  await app.start();
  const suffix = Date.now().toString(36).slice(-4);
  const signUp = async (h: string) =>
    (await gql(`mutation($i: SignUpInput!) { signUp(input: $i) { token } }`, { i: { handle: h, displayName: h, password: 'correct horse battery' } }))
      .data.signUp.token as string;
  const host = await signUp(`sh_${suffix}`);
  const spaceId = (await gql(`mutation { createSpace(input: {title: "Signalling", speakerPolicy: EVERYONE}) { id } }`, {}, host)).data.createSpace.id;
  const figures: Record<'join' | 'ice' | 'listen' | 'answer' | 'connect', number[]> = { join: [], ice: [], listen: [], answer: [], connect: [] };
  for (let i = 0; i < USERS * 2; i++) {
    const token = await signUp(`s${i}_${suffix}`);
    const join = await gql(`mutation($s: ID!) { joinSpace(spaceId: $s) { id } }`, { s: spaceId }, token);
    const ice = await gql(`query { iceServers { urls } }`, {}, token);
    const audience = i % 2 === 0;
    const audio = audience
      ? await gql(`mutation($s: ID!) { listenAudio(spaceId: $s) { id offer } }`, { s: spaceId }, token)
      : await gql(`mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer } }`, { s: spaceId, o: fakeOffer('recvonly') }, token);
    const answer = audience
      ? await gql(`mutation($s: ID!, $id: ID!, $a: String!) { answerAudio(spaceId: $s, offerId: $id, answer: $a) { id } }`, {
          s: spaceId,
          id: audio.data.listenAudio.id,
          a: fakeAnswerTo(audio.data.listenAudio.offer),
        }, token)
      : null;
    if (i < WARMUP * 2) continue;
    if (answer) figures.answer.push(answer.ms);
    figures.join.push(join.ms);
    figures.ice.push(ice.ms);
    figures[audience ? 'listen' : 'connect'].push(audio.ms);
  }
  const rows = [['ms (send → reply, one HTTP request)', 'n', 'p50', 'p95', 'max']];
  for (const [name, values] of [
    ['joinSpace', figures.join],
    ['iceServers', figures.ice],
    ['connectAudio (baseline: a mixer seat, the answer back)', figures.connect],
    ['listenAudio (audience tier: the relay offer back)', figures.listen],
    ['answerAudio (audience tier: the answer delivered)', figures.answer],
  ] as const) {
    const d = distribution(values);
    rows.push([name, String(d.n), fmt(d.p50), fmt(d.p95), fmt(d.max)]);
  }
  console.log('\nSignalling latency — the API alone, no browser (PostgreSQL, Janus and the API on this machine)');
  for (const line of table(rows)) console.log(`  ${line}`);
  const ratio = (distribution(figures.listen).p50 + distribution(figures.answer).p50) / distribution(figures.connect).p50;
  console.log(`  ratio: (listenAudio + answerAudio) p50 / connectAudio p50 = ${fmt(ratio, 2)}x (two round trips against one)`);
  bound.finish();
  await cleanup();
  process.exit(0);
} catch (error) {
  console.error('[signalling] failed:', error);
  await cleanup();
  process.exit(1);
}
