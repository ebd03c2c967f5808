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

// ---------------------------------------------------------------------------------------------
// For the web client too (imported as `@spaces/api/rules`): pure, no server imports.

/** The roles on stage, in stage order (host first); listeners are the audience. */
export const STAGE_ROLES = ['HOST', 'CO_HOST', 'SPEAKER'] as const satisfies readonly Role[];
/** Where a role sorts on stage: host, co-hosts, speakers, then listeners. */
export const ROLE_ORDER: Readonly<Record<Role, number>> = { HOST: 0, CO_HOST: 1, SPEAKER: 2, LISTENER: 3 };

/**
 * Whom "mute all" mutes: speakers with an open mic. The host and co-hosts keep theirs (they run
 * the space).
 */
export const mutedByMuteAll = (p: { role: Role; muted: boolean }): boolean => p.role === 'SPEAKER' && !p.muted;

/** What a moderator may do to one participant, as a client offers it (the server still decides). */
export interface ModerationChoices {
  mute: boolean;
  takeOffStage: boolean;
  makeSpeaker: boolean;
  makeCoHost: boolean;
  inviteToSpeak: boolean;
  remove: boolean;
}

/**
 * The moderation choices `actor` has over `target`, by canModerate and canSetRole's rules:
 * mute someone on stage with an open mic; take someone off stage; let a raised hand speak (or
 * make a co-host a plain speaker: the host); make a co-host (the host); invite a listener who has
 * not asked; remove.
 */
export function moderationChoices(
  actor: Actor,
  target: { userId: string; role: Role; muted: boolean; handRaised: boolean },
): ModerationChoices {
  const none: ModerationChoices = {
    mute: false,
    takeOffStage: false,
    makeSpeaker: false,
    makeCoHost: false,
    inviteToSpeak: false,
    remove: false,
  };
  if (!canModerate(actor, target).ok) return none;
  const host = actor.role === 'HOST';
  return {
    mute: isOnStage(target.role) && !target.muted,
    takeOffStage: isOnStage(target.role),
    makeSpeaker: (target.role === 'LISTENER' && target.handRaised) || (host && target.role === 'CO_HOST'),
    makeCoHost: host && target.role !== 'CO_HOST',
    inviteToSpeak: target.role === 'LISTENER' && !target.handRaised,
    remove: true,
  };
}

/**
 * Why a listener may not ask to speak, as a reason code the client puts into words (null: they
 * may). Guests listen only; a removed person is not in the space; otherwise the policy decides.
 */
export type SpeakRefusal = 'GUEST' | 'REMOVED' | 'POLICY_FOLLOWING' | 'POLICY_INVITED';
export function speakRefusal(f: { isGuest: boolean; removed: boolean; policy: SpeakerPolicy; eligible: boolean }): SpeakRefusal | null {
  if (f.removed) return 'REMOVED';
  if (f.isGuest) return 'GUEST';
  if (f.eligible) return null;
  return f.policy === 'INVITED' ? 'POLICY_INVITED' : f.policy === 'FOLLOWING' ? 'POLICY_FOLLOWING' : null;
}

/* ---- Fleets: who may reply (the same shape as speaker policies) ---- */

/**
 * Who may reply to (or react to) a fleet, chosen by its author per fleet or as their default:
 * everyone, the people the author follows, or nobody.
 */
export type ReplyPolicy = 'EVERYONE' | 'FOLLOWING' | 'NOBODY';
export const REPLY_POLICIES = ['EVERYONE', 'FOLLOWING', 'NOBODY'] as const satisfies readonly ReplyPolicy[];
/** How long a fleet lives. */
export const FLEET_TTL_MS = 24 * 3_600_000;
/** Text fleets, captions and text replies: one line of user text, at most this many characters. */
export const FLEET_TEXT_MAX = 280;

/**
 * Why the viewer may not reply to a fleet (null: they may), as a reason code the client puts into
 * words beside a hidden reply box: OWN (the author's own fleet), SIGNED_OUT, GUEST (listen-only
 * accounts), NOBODY (the author allows no replies), NOT_FOLLOWED (FOLLOWING, and the author does
 * not follow the viewer).
 */
export type ReplyRefusal = 'OWN' | 'SIGNED_OUT' | 'GUEST' | 'NOBODY' | 'NOT_FOLLOWED';
export function replyRefusal(f: {
  signedIn: boolean;
  isGuest: boolean;
  isAuthor: boolean;
  policy: ReplyPolicy;
  /** The fleet's author follows the viewer. */
  authorFollows: boolean;
}): ReplyRefusal | null {
  if (!f.signedIn) return 'SIGNED_OUT';
  if (f.isAuthor) return 'OWN';
  if (f.isGuest) return 'GUEST';
  if (f.policy === 'NOBODY') return 'NOBODY';
  if (f.policy === 'FOLLOWING' && !f.authorFollows) return 'NOT_FOLLOWED';
  return null;
}

/** replyToFleet's verdict: FORBIDDEN with the refusal as `reason`. */
export function canReplyToFleet(f: Parameters<typeof replyRefusal>[0]): Verdict {
  const refusal = replyRefusal(f);
  if (refusal === null) return allow;
  const message: Record<ReplyRefusal, string> = {
    OWN: 'You cannot reply to your own fleet.',
    SIGNED_OUT: 'Sign in to reply.',
    GUEST: 'Guests cannot reply.',
    NOBODY: 'The author turned replies off for this fleet.',
    NOT_FOLLOWED: 'Only people the author follows can reply to this fleet.',
  };
  return deny(message[refusal]);
}

/* ---- Scheduled spaces and reminders ---- */

/** How far ahead a space may be scheduled (createSpace and updateSpace alike). */
export const SCHEDULE_MAX_AHEAD_DAYS = 366;
/** How far ahead a followed account's scheduled space appears on the spaces bar. */
export const BAR_SCHEDULED_WITHIN_MS = 24 * 3_600_000;

/** What a host may change of a space in each state (updateSpace). */
export interface SpaceUpdate {
  title?: boolean;
  scheduledFor?: boolean;
  speakerPolicy?: boolean;
}

/**
 * updateSpace: the host only; the title and speaker policy while SCHEDULED or LIVE, the start
 * time only while SCHEDULED.
 */
export function canUpdateSpace(viewer: { isHost: boolean }, state: SpaceState, update: SpaceUpdate): Verdict {
  if (!viewer.isHost) return deny('Only the host can edit this space.');
  if (state === 'ENDED') return deny('This space has ended.', 'CONFLICT');
  if (update.scheduledFor && state !== 'SCHEDULED') return deny('Only a scheduled space can be rescheduled.', 'CONFLICT');
  return allow;
}

/** cancelSpace: the host only, and only a space that has not started. */
export function canCancelSpace(viewer: { isHost: boolean }, state: SpaceState): Verdict {
  if (!viewer.isHost) return deny('Only the host can cancel this space.');
  if (state !== 'SCHEDULED') return deny(`This space is ${state.toLowerCase()}; only a scheduled space can be cancelled.`, 'CONFLICT');
  return allow;
}

/** setReminder: anyone signed in, for a space that has not started (nor been cancelled). */
export function canSetReminder(state: SpaceState): Verdict {
  return state === 'SCHEDULED' ? allow : deny('Reminders are only for scheduled spaces.', 'CONFLICT');
}

/** A new start time for a scheduled space: in the future, at most SCHEDULE_MAX_AHEAD_DAYS ahead. */
export function validateScheduledFor(when: Date, now = Date.now()): { ok: true } | { ok: false; reason: string } {
  if (Number.isNaN(when.getTime())) return { ok: false, reason: 'not a valid time' };
  if (when.getTime() <= now) return { ok: false, reason: 'must be in the future' };
  if (when.getTime() > now + SCHEDULE_MAX_AHEAD_DAYS * 86_400_000)
    return { ok: false, reason: `must be at most ${SCHEDULE_MAX_AHEAD_DAYS} days ahead` };
  return { ok: true };
}

/* ---- Notifications ---- */

export type NotificationKind =
  | 'SPEAKER_INVITED'
  | 'HAND_RAISED'
  | 'SPACE_STARTED'
  | 'SPACE_REMINDER'
  | 'SPACE_CANCELLED'
  | 'FLEET_REPLY';
/** Notifications older than this are deleted by the janitor. */
export const NOTIFICATION_RETENTION_DAYS = 30;

// ---------------------------------------------------------------------------------------------
// Guests: listener-only accounts for signed-out visitors (startGuestSession).

/** A guest account's handle: `guest_` and 9 random characters (the handle format allows 15). */
export const GUEST_HANDLE_PREFIX = 'guest_';
/** How long a guest session lasts; the account goes once it has no session and is in no space. */
export const GUEST_SESSION_TTL_MS = 24 * 3_600_000;
/** The name a guest shows with (in the audience). */
export const GUEST_DISPLAY_NAME = 'Guest';

/**
 * The root fields a guest may use: every query; these mutations (listen, never speak; leave;
 * sign in or up, which replaces the guest session; sign out); the space's own events.
 */
export const GUEST_MUTATIONS = [
  'joinSpace',
  'leaveSpace',
  'listenAudio',
  'answerAudio',
  'disconnectAudio',
  'signIn',
  'signUp',
  'signOut',
] as const;
export const GUEST_SUBSCRIPTIONS = ['spaceEvents'] as const;
/** Root fields a guest must not use that have a listener's counterpart (code CONFLICT, useInstead). */
export const GUEST_USE_INSTEAD: Readonly<Record<string, string>> = { connectAudio: 'listenAudio' };

export type GuestVerdict =
  | { ok: true }
  | { ok: false; code: 'FORBIDDEN'; reason: 'GUEST'; message: string }
  | { ok: false; code: 'CONFLICT'; useInstead: string; message: string };

/** Whether a guest may use the root field `field` of the operation kind `operation`. */
export function guestMayUse(operation: 'query' | 'mutation' | 'subscription', field: string): GuestVerdict {
  if (operation === 'query') return { ok: true };
  const allowed: readonly string[] = operation === 'mutation' ? GUEST_MUTATIONS : GUEST_SUBSCRIPTIONS;
  if (allowed.includes(field)) return { ok: true };
  const instead = GUEST_USE_INSTEAD[field];
  if (instead)
    return { ok: false, code: 'CONFLICT', useInstead: instead, message: `Guests only listen: use ${instead} instead.` };
  return { ok: false, code: 'FORBIDDEN', reason: 'GUEST', message: 'Guests can only listen: sign in or create an account to do that.' };
}

/** What others may never do to a guest: follow them, invite them to speak, or put them on stage. */
export type GuestTargetAction = 'follow' | 'invite' | 'stage';

/** Whether `action` may target a user; guests are never followed, invited or on stage. */
export function canTarget(target: { isGuest: boolean }, action: GuestTargetAction): Verdict {
  if (!target.isGuest) return allow;
  const what = action === 'follow' ? 'followed' : action === 'invite' ? 'invited to speak' : 'put on stage';
  return deny(`Guests cannot be ${what}.`);
}

/** Telling raised hands that a host saw them (markHandsSeen): the host and co-hosts. */
export function canMarkHandsSeen(role: Role | null): Verdict {
  if (role === null) return deny('Join the space first.', 'CONFLICT');
  return isModerator(role) ? allow : deny('Only the host and co-hosts can do this.');
}

// ---------------------------------------------------------------------------------------------
// Scopes of personal access tokens and OAuth apps (issue 13).

/** The OAuth scope strings, in the order they are shown; the GraphQL enum ApiScope names each. */
export const API_SCOPES = ['read', 'follow', 'spaces:write', 'spaces:moderate', 'audio', 'profile:write', 'fleets:write'] as const;
export type ApiScope = (typeof API_SCOPES)[number];
export const isApiScope = (value: string): value is ApiScope => (API_SCOPES as readonly string[]).includes(value);

/** What each scope allows, in words (the consent screen, the enum's descriptions, docs). */
export const API_SCOPE_WORDS: Readonly<Record<ApiScope, string>> = {
  read: 'See spaces, profiles, fleets and your notifications, and follow what happens live',
  follow: 'Follow and unfollow people',
  'spaces:write': 'Open, join, leave and take part in spaces (raise a hand, react, reminders)',
  'spaces:moderate': 'Moderate spaces you host or co-host (speakers, mutes, removals)',
  audio: 'Connect to a space’s audio: listen, and speak when on stage',
  'profile:write': 'Change your profile and avatar',
  'fleets:write': 'Post, delete and reply to fleets',
};

/**
 * The decision for one root field: the scope a token needs, SESSION_ONLY (only the PWA's own
 * sign-in: a token never mints or manages tokens and apps) or OPEN (anyone, signed in or not).
 */
export type RootFieldRule = ApiScope | 'SESSION_ONLY' | 'OPEN';
export type RootType = 'Query' | 'Mutation' | 'Subscription';

/**
 * Every root field of the schema and its rule. A field missing here is refused to every token
 * (and tests/src/integration/scopes.test.ts fails), so a new field is decided on purpose.
 */
export const ROOT_FIELD_RULES: Readonly<Record<RootType, Readonly<Record<string, RootFieldRule>>>> = {
  Query: {
    fleetsBar: 'read',
    liveSpaces: 'read',
    node: 'read',
    notifications: 'read',
    searchSpaces: 'read',
    search: 'read',
    space: 'read',
    spacesBar: 'read',
    suggestedUsers: 'read',
    unreadNotificationCount: 'read',
    upcomingSpaces: 'read',
    user: 'read',
    viewer: 'read',
    iceServers: 'audio',
    personalAccessTokens: 'SESSION_ONLY',
    apps: 'SESSION_ONLY',
    appAuthorizations: 'SESSION_ONLY',
    authorizationRequest: 'SESSION_ONLY',
  },
  Mutation: {
    signUp: 'OPEN',
    signIn: 'OPEN',
    startGuestSession: 'OPEN',
    signOut: 'OPEN',
    markNotificationsRead: 'read',
    markFleetSeen: 'read',
    follow: 'follow',
    unfollow: 'follow',
    createSpace: 'spaces:write',
    updateSpace: 'spaces:write',
    startSpace: 'spaces:write',
    endSpace: 'spaces:write',
    cancelSpace: 'spaces:write',
    joinSpace: 'spaces:write',
    leaveSpace: 'spaces:write',
    requestToSpeak: 'spaces:write',
    acceptSpeakerInvite: 'spaces:write',
    react: 'spaces:write',
    setReminder: 'spaces:write',
    setMuted: 'spaces:write',
    setSpeakerPolicy: 'spaces:moderate',
    inviteSpeaker: 'spaces:moderate',
    revokeSpeakerInvite: 'spaces:moderate',
    setParticipantRole: 'spaces:moderate',
    muteParticipant: 'spaces:moderate',
    muteAll: 'spaces:moderate',
    removeParticipant: 'spaces:moderate',
    markHandsSeen: 'spaces:moderate',
    connectAudio: 'audio',
    answerAudio: 'audio',
    listenAudio: 'audio',
    disconnectAudio: 'audio',
    updateProfile: 'profile:write',
    removeAvatar: 'profile:write',
    setDefaultReplyPolicy: 'profile:write',
    postFleet: 'fleets:write',
    deleteFleet: 'fleets:write',
    replyToFleet: 'fleets:write',
    createPersonalAccessToken: 'SESSION_ONLY',
    revokePersonalAccessToken: 'SESSION_ONLY',
    registerApp: 'SESSION_ONLY',
    deleteApp: 'SESSION_ONLY',
    approveAuthorization: 'SESSION_ONLY',
    denyAuthorization: 'SESSION_ONLY',
    revokeAppAuthorization: 'SESSION_ONLY',
  },
  Subscription: {
    fleetsBar: 'read',
    notifications: 'read',
    spaceEvents: 'read',
    spacesBar: 'read',
  },
};

/** The HTTP uploads and the scope each needs (api/src/media-http.ts). */
export const MEDIA_UPLOAD_SCOPES: Readonly<Record<string, ApiScope>> = {
  '/media/avatar': 'profile:write',
  '/media/fleet-photo': 'fleets:write',
};

export type ScopeVerdict =
  | { ok: true }
  | { ok: false; requiredScope: ApiScope | 'session'; message: string };

export const missingScopeMessage = (scope: ApiScope) => `This token lacks the "${scope}" scope.`;
export const SESSION_ONLY_MESSAGE = "Only the Spaces app's own sign-in can manage tokens and apps.";

/**
 * Whether a credential may use a root field. `scopes` null is the PWA's own session (every
 * scope, session-only fields too); a token's scopes must include the field's scope. A field
 * with no rule is refused to tokens (decided nowhere = not allowed).
 */
export function tokenMayUse(type: RootType, field: string, scopes: ReadonlySet<ApiScope> | null): ScopeVerdict {
  const rule = ROOT_FIELD_RULES[type][field];
  if (rule === 'OPEN') return { ok: true };
  if (scopes === null) return { ok: true };
  if (rule === undefined || rule === 'SESSION_ONLY') return { ok: false, requiredScope: 'session', message: SESSION_ONLY_MESSAGE };
  return scopes.has(rule) ? { ok: true } : { ok: false, requiredScope: rule, message: missingScopeMessage(rule) };
}

/** Personal access tokens: name length and lifetime (createPersonalAccessToken). */
export const TOKEN_NAME_MAX = 100;
export const TOKEN_EXPIRES_IN_DAYS = { min: 1, max: 366 } as const;
/** OAuth lifetimes: access tokens, refresh tokens (rotated on every use), authorization codes. */
export const OAUTH_ACCESS_TOKEN_TTL_S = 3_600;
export const OAUTH_REFRESH_TOKEN_TTL_S = 30 * 86_400;
export const OAUTH_CODE_TTL_S = 600;
/** An app's name and description (registerApp), and how many redirect URIs it may list. */
export const APP_NAME_MAX = 50;
export const APP_DESCRIPTION_MAX = 300;
export const APP_REDIRECT_URIS_MAX = 10;
/** lastUsedAt is written at most this often per token (not a write per request). */
export const TOKEN_LAST_USED_GRANULARITY_MS = 60_000;
