/**
 * The rules of a space in one place: who may speak, who may moderate whom, what the mixer lets
 * through. The API's services, the mixer control and the tests all ask these functions; nothing
 * else decides. Pure functions of plain values, so they are easy to test exhaustively.
 */
import { cleanLine } from './text.ts';

export type Role = 'HOST' | 'CO_HOST' | 'SPEAKER' | 'LISTENER';
export type SpeakerPolicy = 'EVERYONE' | 'FOLLOWING' | 'INVITED';
export type SpaceState = 'SCHEDULED' | 'LIVE' | 'ENDED';

export const STAGE_LIMITS = { CO_HOST: 2, SPEAKER: 10 } as const;
export const TITLE_MAX = 100;
/** The reactions anyone in a space may send. */
export const REACTIONS = ['👏', '❤️', '😂', '😮', '😢', '🔥', '💯', '🙌', '👍', '👎', '🎉', '🤔'] as const;
/** Reactions per user per window. */
export const REACTION_RATE = { limit: 10, windowMs: 10_000 } as const;

export const isModerator = (role: Role | null | undefined) => role === 'HOST' || role === 'CO_HOST';
export const isOnStage = (role: Role | null | undefined) => role === 'HOST' || role === 'CO_HOST' || role === 'SPEAKER';

/** What speaking eligibility depends on, for one user in one space. */
export interface EligibilityFacts {
  policy: SpeakerPolicy;
  /** The host follows this user. */
  hostFollows: boolean;
  /** A host or co-host invited this user. */
  invited: boolean;
}

/**
 * Whether the policy lets this user take the mic: an invitation makes anyone eligible;
 * otherwise EVERYONE admits all, FOLLOWING those the host follows, INVITED nobody else.
 */
export function isEligibleToSpeak(f: EligibilityFacts): boolean {
  if (f.invited) return true;
  if (f.policy === 'EVERYONE') return true;
  if (f.policy === 'FOLLOWING') return f.hostFollows;
  return false;
}

/**
 * A speaker stays on stage only while eligible. Hosts and co-hosts were appointed, not admitted
 * by the policy, so the policy never moves them.
 */
export function mustLeaveStage(role: Role, f: EligibilityFacts): boolean {
  return role === 'SPEAKER' && !isEligibleToSpeak(f);
}

export interface Actor {
  userId: string;
  role: Role | null;
}
export interface Target {
  userId: string;
  role: Role | null;
}

export type Verdict = { ok: true } | { ok: false; code: 'FORBIDDEN' | 'CONFLICT' | 'BAD_USER_INPUT'; reason: string };
const allow: Verdict = { ok: true };
const deny = (reason: string, code: 'FORBIDDEN' | 'CONFLICT' | 'BAD_USER_INPUT' = 'FORBIDDEN'): Verdict => ({
  ok: false,
  code,
  reason,
});

/**
 * Whether `actor` may moderate `target` at all (mute, change role, remove). Decided per target:
 * nobody acts on the host; co-hosts act on speakers and listeners, not on each other; the host
 * acts on everyone else.
 */
export function canModerate(actor: Actor, target: Target): Verdict {
  if (!isModerator(actor.role)) return deny('Only the host and co-hosts can moderate.');
  if (actor.userId === target.userId) return deny('Moderators cannot moderate themselves.');
  if (target.role === 'HOST') return deny('Nobody can moderate the host.');
  if (actor.role === 'CO_HOST' && target.role === 'CO_HOST') return deny('Co-hosts cannot moderate each other.');
  return allow;
}

export interface StageCounts {
  coHosts: number;
  speakers: number;
}

/**
 * Whether `actor` may give `target` the role `to`.
 * - LISTENER: takes someone off stage (a moderator), or steps down oneself (anyone but the host).
 * - SPEAKER: the target must be eligible and have asked (raised hand) or been invited.
 * - CO_HOST: the host only. HOST: never assigned.
 */
export function canSetRole(
  actor: Actor,
  target: Target & { handRaised: boolean; invited: boolean; eligible: boolean },
  to: Role,
  counts: StageCounts,
): Verdict {
  if (actor.userId === target.userId) {
    if (to === 'LISTENER' && target.role !== 'HOST' && target.role !== null) return allow;
    return deny(actor.role === 'HOST' ? 'The host role cannot be changed.' : 'You can only step down yourself.');
  }
  const moderation = canModerate(actor, target);
  if (!moderation.ok) return moderation;
  if (to === 'HOST') return deny('The host role cannot be given.', 'BAD_USER_INPUT');
  if (target.role === null) return deny('That user is not in the space.', 'CONFLICT');
  if (to === target.role) return allow;
  if (to === 'CO_HOST') {
    if (actor.role !== 'HOST') return deny('Only the host can appoint co-hosts.');
    if (counts.coHosts >= STAGE_LIMITS.CO_HOST) return deny(`At most ${STAGE_LIMITS.CO_HOST} co-hosts.`, 'CONFLICT');
    return allow;
  }
  if (to === 'SPEAKER') {
    if (!target.eligible) return deny('The speaker policy does not allow this user to speak.');
    if (!isOnStage(target.role) && !target.handRaised && !target.invited)
      return deny('This user has not asked to speak and is not invited.');
    if (counts.speakers >= STAGE_LIMITS.SPEAKER) return deny(`At most ${STAGE_LIMITS.SPEAKER} speakers.`, 'CONFLICT');
    return allow;
  }
  return allow; // LISTENER
}

/** Whether the viewer may raise a hand (or accept an invitation): eligible, and not already on stage. */
export function canRequestToSpeak(role: Role | null, f: EligibilityFacts): Verdict {
  if (role === null) return deny('Join the space first.', 'CONFLICT');
  if (isOnStage(role)) return deny('You are already on stage.', 'CONFLICT');
  if (!isEligibleToSpeak(f)) return deny('The speaker policy does not allow you to speak in this space.');
  return allow;
}

/** Only stage roles can open their mic; listeners are always muted. */
export function canUnmute(role: Role | null): Verdict {
  if (role === null) return deny('Join the space first.', 'CONFLICT');
  return isOnStage(role) ? allow : deny('Listeners cannot unmute; ask to speak first.');
}

/**
 * What the mixer must do with a participant's audio: heard only with a stage role and an open
 * mic. This is the single source for the mixer control, so no client message can change it.
 */
export function isHeardAtMixer(p: { role: Role; muted: boolean; present: boolean }): boolean {
  return p.present && isOnStage(p.role) && !p.muted;
}

/**
 * Everyone enters a space with the mic off, the host too (as on Twitter): a host creating,
 * starting or coming back to a space opens the mic when ready, never by surprise.
 */
export const mutedOnEntering = (_role: Role): boolean => true;

/**
 * The end-of-space recap (duration, peak listeners, who spoke) is the host's, once the space
 * has ended.
 */
export const canSeeRecap = (viewer: { isHost: boolean }, state: SpaceState): boolean => viewer.isHost && state === 'ENDED';

/** The mute state a participant has in a role: listeners always muted. */
export const effectiveMuted = (role: Role, muted: boolean) => (isOnStage(role) ? muted : true);

/** A space title: one line of user text (the text policy in text.ts), 1–TITLE_MAX characters. */
export function validateTitle(raw: string): { ok: true; title: string } | { ok: false; reason: string } {
  const verdict = cleanLine(raw, { max: TITLE_MAX });
  return verdict.ok ? { ok: true, title: verdict.text } : verdict;
}

export const isReaction = (emoji: string): boolean => (REACTIONS as readonly string[]).includes(emoji);

/**
 * Past this many listeners a space's audience is summarised: listeners' joins and leaves reach
 * subscribers as one AUDIENCE_UPDATED per AUDIENCE_UPDATE_INTERVAL_MS instead of one event each
 * (N joins would otherwise cost N events to each of N subscribers).
 */
export const AUDIENCE_EVENT_THRESHOLD = 50;
/** At most one AUDIENCE_UPDATED per space this often (per API instance that saw the changes). */
export const AUDIENCE_UPDATE_INTERVAL_MS = 1_000;
/** How many of the listeners who joined an AUDIENCE_UPDATED names. */
export const AUDIENCE_SAMPLE_SIZE = 5;
