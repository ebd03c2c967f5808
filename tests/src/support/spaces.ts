import type { TestApp } from './app.ts';
import { handle } from './app.ts';

export type Policy = 'EVERYONE' | 'FOLLOWING' | 'INVITED';
export interface U {
  id: string;
  token: string;
  handle: string;
}

export const F = `id role muted handRaised speaking audioConnected user { id handle }`;

/** Runs one mutation/query and throws on errors: for arranging scenarios. */
export async function must(t: TestApp, query: string, variables: Record<string, unknown>, user?: U) {
  const r = await t.gql(query, variables, { token: user?.token });
  if (r.errors) throw new Error(`${query.slice(0, 60)}… failed: ${JSON.stringify(r.errors)}`);
  return r.data!;
}

export const Q = {
  create: `mutation($input: CreateSpaceInput!) { createSpace(input: $input) { id state speakerPolicy title } }`,
  join: `mutation($s: ID!) { joinSpace(spaceId: $s) { ${F} } }`,
  leave: `mutation($s: ID!) { leaveSpace(spaceId: $s) }`,
  raise: `mutation($s: ID!, $r: Boolean) { requestToSpeak(spaceId: $s, raised: $r) { ${F} } }`,
  invite: `mutation($s: ID!, $u: ID!) { inviteSpeaker(spaceId: $s, userId: $u) { id } }`,
  revoke: `mutation($s: ID!, $u: ID!) { revokeSpeakerInvite(spaceId: $s, userId: $u) { id } }`,
  accept: `mutation($s: ID!) { acceptSpeakerInvite(spaceId: $s) { ${F} } }`,
  role: `mutation($s: ID!, $u: ID!, $role: ParticipantRole!) { setParticipantRole(spaceId: $s, userId: $u, role: $role) { ${F} } }`,
  setMuted: `mutation($s: ID!, $m: Boolean!) { setMuted(spaceId: $s, muted: $m) { ${F} } }`,
  mute: `mutation($s: ID!, $u: ID!) { muteParticipant(spaceId: $s, userId: $u) { ${F} } }`,
  muteAll: `mutation($s: ID!) { muteAll(spaceId: $s) { id } }`,
  remove: `mutation($s: ID!, $u: ID!) { removeParticipant(spaceId: $s, userId: $u) { id } }`,
  react: `mutation($s: ID!, $e: String!) { react(spaceId: $s, emoji: $e) }`,
  policy: `mutation($s: ID!, $p: SpeakerPolicy!) { setSpeakerPolicy(spaceId: $s, policy: $p) { id speakerPolicy } }`,
  start: `mutation($s: ID!) { startSpace(spaceId: $s) { id state } }`,
  end: `mutation($s: ID!) { endSpace(spaceId: $s) { id state endedAt } }`,
  follow: `mutation($u: ID!) { follow(userId: $u) { id } }`,
  unfollow: `mutation($u: ID!) { unfollow(userId: $u) { id } }`,
  space: `query($s: ID!) { space(id: $s) { id title state speakerPolicy participantCount listenerCount viewerCanSpeak
    host { id } stage { ${F} } invitedSpeakers { id } viewerParticipant { ${F} } } }`,
};

export const EVENTS = `subscription($s: ID!) { spaceEvents(spaceId: $s) { kind emoji at user { id handle }
  participant { id role muted handRaised speaking audioConnected user { id } } space { id state speakerPolicy } } }`;

export async function users(t: TestApp, n: number, prefix = 'm'): Promise<U[]> {
  return Promise.all(Array.from({ length: n }, () => t.signUp(handle(prefix))));
}

/**
 * A live space with one of each: host, co-host, speaker (invited, accepted, unmuted), listener,
 * a target listener with a raised hand where the policy allows (the host follows them), a
 * removed user, and an outsider who never joined.
 */
export interface Cast {
  host: U;
  coHost: U;
  speaker: U;
  listener: U;
  target: U;
  removed: U;
  outsider: U;
}

export async function openSpace(t: TestApp, cast: Cast, policy: Policy): Promise<string> {
  const { createSpace } = await must(t, Q.create, { input: { title: 'Matrix', speakerPolicy: policy } }, cast.host);
  const s = createSpace.id as string;
  for (const u of [cast.coHost, cast.speaker, cast.listener, cast.target, cast.removed]) await must(t, Q.join, { s }, u);
  await must(t, Q.role, { s, u: cast.coHost.id, role: 'CO_HOST' }, cast.host);
  await must(t, Q.invite, { s, u: cast.speaker.id }, cast.host);
  await must(t, Q.accept, { s }, cast.speaker);
  await must(t, Q.setMuted, { s, m: false }, cast.speaker);
  if (policy !== 'INVITED') await must(t, Q.raise, { s, r: true }, cast.target);
  await must(t, Q.remove, { s, u: cast.removed.id }, cast.host);
  return s;
}
