/**
 * The floor of the read benchmark (bench/read.ts): the answer to its SpaceRoom query, byte for
 * byte as our /graphql gives it, made with hand-written postgres.js queries (prepared, 5
 * statements: the session with its user, then space + host + counts, the stage, the viewer's
 * participant and the first audience page at once) behind a bare node:http server. It reads
 * `variables.id` of a POSTed GraphQL body and the bearer token; the query text is not parsed.
 * IPC: → { type: 'ready', url }; ← { cmd: 'stats' } → { type: 'stats', queries, cpuUserUs, cpuSystemUs };
 * ← { cmd: 'stop' }. Env: BENCH_DATABASE_URL (required), BENCH_DB_POOL (10, as the API's).
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import postgres from 'postgres';
import { serveToBench } from './child.ts';

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error('BENCH_DATABASE_URL is required');
let queries = 0;
const sql = postgres(url, {
  max: Number(process.env.BENCH_DB_POOL ?? 10),
  onnotice: () => {},
  connection: { application_name: 'spaces-bench-raw' },
});
// Counts the statements sent. Set after creating the client: given as an option, postgres.js
// also captures a stack trace for every query (its debug mode), a cost pnpm start never pays.
(sql.options as { debug?: unknown }).debug = () => {
  queries++;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64url');
const cursor = (parts: string[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
const avatarUrl = (key: string | null) => (key ? `/media/${key}-96.webp` : null);
const onStage = (role: string) => role !== 'LISTENER';

interface SeatRow {
  id: string;
  role: string;
  muted: boolean;
  hand_raised: boolean;
  hand_seen: boolean;
  speaking: boolean;
  audio_connected: boolean;
  joined_at: Date;
  user_id: string;
  handle: string;
  display_name: string;
  avatar_key: string | null;
}

// Field order is the query's: the answer is then the same bytes as ours.
const user = (r: { user_id: string; handle: string; display_name: string; avatar_key: string | null }) => ({
  id: globalId('User', r.user_id),
  handle: r.handle,
  displayName: r.display_name,
  avatarUrl: avatarUrl(r.avatar_key),
});
const seat = (r: SeatRow) => ({
  id: globalId('Participant', r.id),
  role: r.role,
  muted: onStage(r.role) ? r.muted : true,
  handRaised: r.hand_raised,
  handSeen: r.hand_raised && r.hand_seen,
  speaking: r.speaking,
  audioConnected: r.audio_connected,
  present: true,
  joinedAt: r.joined_at.toISOString(),
  user: user(r),
});
const listener = (r: SeatRow) => ({
  id: globalId('Participant', r.id),
  role: r.role,
  muted: true,
  handRaised: r.hand_raised,
  speaking: r.speaking,
  audioConnected: r.audio_connected,
  present: true,
  joinedAt: r.joined_at.toISOString(),
  user: user(r),
});

const SEAT_COLUMNS = sql`p.id, p.role, p.muted, p.hand_raised, p.hand_seen, p.speaking, p.audio_connected, p.joined_at,
  u.id as user_id, u.handle, u.display_name, u.avatar_key`;

async function viewerOf(token: string | null) {
  if (!token || token.length > 200) return null;
  const hash = createHash('sha256').update(token).digest('hex');
  const [row] = await sql<{ id: string; handle: string; display_name: string; is_guest: boolean }[]>`
    select u.id, u.handle, u.display_name, u.is_guest from sessions s join users u on u.id = s.user_id
    where s.token_hash = ${hash} and s.revoked_at is null and s.expires_at > now() limit 1`;
  return row ?? null;
}

async function spaceRoom(spaceId: string, viewer: { id: string } | null) {
  const [spaces, stage, mine, audience] = await Promise.all([
    sql<
      {
        id: string;
        title: string;
        state: string;
        speaker_policy: string;
        scheduled_for: Date | null;
        started_at: Date | null;
        ended_at: Date | null;
        participant_count: number;
        listener_count: number;
        host_id: string;
        host_handle: string;
        host_display_name: string;
        host_avatar_key: string | null;
      }[]
    >`select s.id, s.title, s.state, s.speaker_policy, s.scheduled_for, s.started_at, s.ended_at,
        c.participant_count, c.listener_count,
        u.id as host_id, u.handle as host_handle, u.display_name as host_display_name, u.avatar_key as host_avatar_key
      from spaces s join users u on u.id = s.host_id,
      lateral (select count(*)::int as participant_count, (count(*) filter (where p.role = 'LISTENER'))::int as listener_count
               from participants p where p.space_id = s.id and p.left_at is null) c
      where s.id = ${spaceId}`,
    sql<SeatRow[]>`select ${SEAT_COLUMNS} from participants p join users u on u.id = p.user_id
      where p.space_id = ${spaceId} and p.left_at is null and p.role in ('HOST', 'CO_HOST', 'SPEAKER')
      order by p.role, p.joined_at, p.id`,
    viewer
      ? sql<SeatRow[]>`select ${SEAT_COLUMNS} from participants p join users u on u.id = p.user_id
          where p.space_id = ${spaceId} and p.user_id = ${viewer.id} and p.left_at is null`
      : Promise.resolve([]),
    sql<SeatRow[]>`select ${SEAT_COLUMNS} from participants p join users u on u.id = p.user_id
      where p.space_id = ${spaceId} and p.left_at is null and p.role = 'LISTENER'
      order by p.role, p.joined_at, p.id limit 51`,
  ]);
  const space = spaces[0];
  if (!space) return null;
  const page = audience.slice(0, 50);
  const last = page.at(-1);
  return {
    id: globalId('Space', space.id),
    title: space.title,
    state: space.state,
    speakerPolicy: space.speaker_policy,
    scheduledFor: space.scheduled_for?.toISOString() ?? null,
    startedAt: space.started_at?.toISOString() ?? null,
    endedAt: space.ended_at?.toISOString() ?? null,
    participantCount: space.participant_count,
    listenerCount: space.listener_count,
    host: { id: globalId('User', space.host_id), handle: space.host_handle, displayName: space.host_display_name, avatarUrl: avatarUrl(space.host_avatar_key) },
    stage: stage.map(seat),
    viewerParticipant: mine[0] ? seat(mine[0]) : null,
    audience: {
      edges: page.map((r) => ({ node: listener(r) })),
      pageInfo: {
        hasNextPage: audience.length > 50,
        endCursor: last ? cursor([last.role, last.joined_at.toISOString(), last.id]) : null,
      },
    },
  };
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/graphql') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables?: { id?: string } };
      const [type, spaceId] = Buffer.from(String(body.variables?.id ?? ''), 'base64url').toString('utf8').split(':');
      if (type !== 'Space' || !spaceId || !UUID.test(spaceId)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: 'not a valid id', extensions: { code: 'BAD_USER_INPUT' } }] }));
        return;
      }
      const auth = req.headers.authorization;
      const viewer = await viewerOf(auth?.startsWith('Bearer ') ? auth.slice(7) : null);
      const space = await spaceRoom(spaceId, viewer);
      const data = {
        viewer: viewer ? { id: globalId('User', viewer.id), handle: viewer.handle, displayName: viewer.display_name, isGuest: viewer.is_guest } : null,
        space,
      };
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ data }));
    } catch (error) {
      console.error('[raw server]', error);
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'internal error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }));
    }
  });
});
await serveToBench(server, { queries: () => queries, closeDatabase: () => sql.end({ timeout: 2 }) });
