/**
 * The read benchmark's data, written straight into the tables (no Janus: read paths only):
 * one live space with its host, 2 co-hosts and 10 speakers on stage (13), the viewer (a signed-in
 * listener with a session) and `listeners` more listeners, a few of whom left again (not present:
 * every system must leave them out); and, around it, `backgroundSpaces` other live spaces with a
 * host and 30 listeners each, so that every query has to pick its space's rows among others.
 */
import { createHash, randomBytes } from 'node:crypto';
import type postgres from 'postgres';

export interface Seeded {
  spaceId: string;
  viewerId: string;
  viewerToken: string;
  onStage: number;
  listeners: number;
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Dennis', 'Radia', 'Linus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Ritchie', 'Perlman', 'Torvalds'];

export async function seed(sql: postgres.Sql, options: { listeners: number; backgroundSpaces: number }): Promise<Seeded> {
  const tag = randomBytes(2).toString('hex');
  let n = 0;
  /** Users with realistic names, 3 in 4 with an avatar. */
  const makeUsers = async (count: number) => {
    const rows = Array.from({ length: count }, () => {
      const i = n++;
      return {
        handle: `r${tag}_${i.toString(36)}`,
        display_name: `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]} ${i}`,
        password_hash: 'bench: no password',
        avatar_key: i % 4 === 3 ? null : `avatars/${randomBytes(8).toString('hex')}`,
      };
    });
    const ids: string[] = [];
    for (let from = 0; from < rows.length; from += 1000)
      ids.push(...(await sql<{ id: string }[]>`insert into users ${sql(rows.slice(from, from + 1000))} returning id`).map((r) => r.id));
    return ids;
  };

  const startedAt = new Date(Date.now() - 3_600_000);
  const at = (seconds: number) => new Date(startedAt.getTime() + seconds * 1000 + (seconds % 7) * 13);

  const [hostId, ...others] = await makeUsers(1 + 2 + 10 + 1 + options.listeners);
  const coHosts = others.slice(0, 2);
  const speakers = others.slice(2, 12);
  const viewerId = others[12]!;
  const listeners = others.slice(13);
  const [space] = await sql<{ id: string }[]>`insert into spaces ${sql({
    host_id: hostId!,
    title: 'Read bench: what does opening a space cost?',
    state: 'LIVE',
    speaker_policy: 'EVERYONE',
    started_at: startedAt,
  })} returning id`;
  const spaceId = space!.id;

  const seat = (userId: string, role: string, joinedAt: Date, extra: Record<string, unknown> = {}) => ({
    space_id: spaceId,
    user_id: userId,
    role,
    muted: role === 'LISTENER',
    hand_raised: false,
    hand_seen: false,
    speaking: false,
    audio_connected: true,
    joined_at: joinedAt,
    seen_at: new Date(),
    left_at: null as Date | null,
    ...extra,
  });
  const rows = [
    seat(hostId!, 'HOST', at(0), { speaking: true }),
    ...coHosts.map((u, i) => seat(u, 'CO_HOST', at(5 + i))),
    ...speakers.map((u, i) => seat(u, 'SPEAKER', at(30 + i * 11), { muted: i % 3 === 0, speaking: i === 1 })),
    seat(viewerId, 'LISTENER', at(200)),
    ...listeners.map((u, i) =>
      seat(u, 'LISTENER', at(40 + i * 7), {
        hand_raised: i % 20 === 4,
        hand_seen: i % 40 === 4,
        audio_connected: i % 5 !== 0,
        // A few have left: no longer present, in no list or count.
        left_at: i % 25 === 10 ? at(1000 + i) : null,
      }),
    ),
  ];
  await sql`insert into participants ${sql(rows)}`;

  const viewerToken = randomBytes(32).toString('base64url');
  await sql`insert into sessions ${sql({
    user_id: viewerId,
    token_hash: createHash('sha256').update(viewerToken).digest('hex'),
    expires_at: new Date(Date.now() + 86_400_000),
  })}`;

  // Other live spaces, each with its host and 30 listeners.
  for (let s = 0; s < options.backgroundSpaces; s++) {
    const [otherHost, ...crowd] = await makeUsers(31);
    const [other] = await sql<{ id: string }[]>`insert into spaces ${sql({
      host_id: otherHost!,
      title: `Another space ${s}`,
      state: 'LIVE',
      speaker_policy: 'EVERYONE',
      started_at: startedAt,
    })} returning id`;
    const crowdRows = [otherHost!, ...crowd].map((u, i) => ({
      space_id: other!.id,
      user_id: u,
      role: i === 0 ? 'HOST' : 'LISTENER',
      joined_at: at(i * 3),
    }));
    await sql`insert into participants ${sql(crowdRows)}`;
  }
  await sql`analyze`;

  const present = listeners.filter((_u, i) => i % 25 !== 10).length + 1;
  return { spaceId, viewerId, viewerToken, onStage: 13, listeners: present };
}
