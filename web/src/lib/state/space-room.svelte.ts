import { AppError, toAppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  AcceptInviteMutation,
  AudiencePageQuery,
  EndSpaceMutation,
  InviteSpeakerMutation,
  JoinSpaceMutation,
  LeaveSpaceMutation,
  MuteAllMutation,
  MuteParticipantMutation,
  ReactMutation,
  RemoveParticipantMutation,
  RequestToSpeakMutation,
  RevokeInviteMutation,
  SetMutedMutation,
  SetPolicyMutation,
  SetRoleMutation,
  SpaceEventsSubscription,
  SpaceRecapQuery,
  SpaceRoomQuery,
  StartSpaceMutation,
  UserByHandleQuery,
  type AudienceUpdateData,
  type ParticipantData,
  type SpaceEventData,
  type SpaceRecapData,
  type SpaceRoomData,
  type UserBasic,
} from '$lib/graphql/documents';

export type Role = ParticipantData['role'];
export type SpeakerPolicy = SpaceRoomData['speakerPolicy'];
export type SpaceState = SpaceRoomData['state'];

/** The emoji the API accepts for reactions. */
export const REACTIONS = ['👏', '❤️', '😂', '😮', '😢', '🔥', '💯', '🙌', '👍', '👎', '🎉', '🤔'] as const;

export const ROLE_LABELS: Record<Role, string> = {
  HOST: 'Host',
  CO_HOST: 'Co-host',
  SPEAKER: 'Speaker',
  LISTENER: 'Listener',
};

const ROLE_ORDER: Record<Role, number> = { HOST: 0, CO_HOST: 1, SPEAKER: 2, LISTENER: 3 };

export const isStageRole = (role: Role | null | undefined): boolean =>
  role === 'HOST' || role === 'CO_HOST' || role === 'SPEAKER';
export const isModeratorRole = (role: Role | null | undefined): boolean => role === 'HOST' || role === 'CO_HOST';

/** Host first, then co-hosts, then speakers; each by when they joined. */
export function byStageOrder(a: ParticipantData, b: ParticipantData): number {
  return ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.joinedAt.localeCompare(b.joinedAt);
}

export type RoomSpace = Omit<SpaceRoomData, 'stage' | 'audience' | 'hands' | 'invitedSpeakers' | 'viewerParticipant'>;

/** The latest summary of a large audience's comings and goings (AUDIENCE_UPDATED). */
export interface AudienceActivity {
  joined: number;
  left: number;
  /** A few of those who joined. */
  sample: UserBasic[];
  at: string;
}

/** "Ada joined", "Ada, Bo and 12 others joined", "3 people joined, 1 left" (null: nothing to say). */
export function describeAudienceActivity(activity: AudienceActivity | null): string | null {
  if (!activity) return null;
  const { joined, left, sample } = activity;
  const parts: string[] = [];
  if (joined > 0) {
    const names = sample.slice(0, 2).map((u) => u.displayName);
    const others = joined - names.length;
    if (names.length === 0) parts.push(`${joined} ${joined === 1 ? 'person' : 'people'} joined`);
    else if (others <= 0) parts.push(`${names.join(' and ')} joined`);
    else parts.push(`${names.join(', ')} and ${others} ${others === 1 ? 'other' : 'others'} joined`);
  }
  if (left > 0) parts.push(`${left} left`);
  return parts.length > 0 ? parts.join(', ') : null;
}

export interface FloatingReaction {
  id: number;
  emoji: string;
  /** Horizontal start, in percent of the reactions lane. */
  left: number;
  by: string;
}

/** What the audio connection should be doing, derived from the room (see AudioConnection.sync). */
export interface AudioPlan {
  spaceId: string | null;
  publish: boolean;
  muted: boolean;
}

export type RoomStatus = 'loading' | 'ready' | 'not-found' | 'error';

export interface SpaceRoomOptions {
  /** Errors of actions, already put into words. */
  onError?: (error: AppError) => void;
  /** Things worth telling the person (an invitation, a removal). */
  onNotice?: (message: string) => void;
  /** The mixer restarted: the audio connection should send a new offer. */
  onAudioReconnect?: () => void;
  /** How long a reaction floats (ms). */
  reactionMs?: number;
  random?: () => number;
}

const MAX_REACTIONS = 30;

/**
 * One space as its page shows it, kept live by Subscription.spaceEvents.
 *
 * Events patch the state in place (a participant joined, changed, left; a reaction; an
 * invitation), so a busy space costs no extra requests. The few events whose effects cannot be
 * patched (a policy or state change) and a socket reconnect schedule one refetch, coalesced:
 * however many arrive, at most one request is in flight and one more waits behind it.
 */
export class SpaceRoom {
  readonly id: string;

  status = $state<RoomStatus>('loading');
  error = $state<AppError | null>(null);
  space = $state<RoomSpace | null>(null);
  stage = $state<ParticipantData[]>([]);
  /** The pages of the audience loaded so far (listeners, raised hands included). */
  audience = $state<ParticipantData[]>([]);
  /** More listeners exist than the pages loaded (see `loadMoreAudience`). */
  audienceTruncated = $state(false);
  /** Listeners with a raised hand (their own first page: past the audience's first page too). */
  hands = $state<ParticipantData[]>([]);
  invitedSpeakers = $state<UserBasic[]>([]);
  viewer = $state<UserBasic | null>(null);
  /** The viewer's participation (null when not in the space). */
  me = $state<ParticipantData | null>(null);
  /** The viewer holds an invitation to speak that they have not accepted yet. */
  invited = $state(false);
  /** The viewer was removed from this space (told by the server on load, or as it happens): no rejoining. */
  removed = $state(false);
  /** The host's recap of an ended space (duration, peak listeners, who spoke); null for others. */
  recap = $state<SpaceRecapData | null>(null);
  reactions = $state<FloatingReaction[]>([]);
  /** The action in flight, by name (buttons show it and do not double-submit). */
  busy = $state<string | null>(null);
  /** How many times the space was fetched (the first load included). */
  fetches = $state(0);

  readonly role = $derived<Role | null>(this.me?.role ?? null);
  readonly isHost = $derived(this.role === 'HOST');
  readonly isModerator = $derived(isModeratorRole(this.role));
  readonly onStage = $derived(isStageRole(this.role));
  readonly live = $derived(this.space?.state === 'LIVE');
  readonly ended = $derived(this.space?.state === 'ENDED');
  /** The viewer hosts this space (present or not: a host who ended it is no longer present). */
  readonly viewerIsHost = $derived(!!this.viewer && this.space?.host.id === this.viewer.id);
  /** Raised hands in the audience, oldest first: the moderators' queue. */
  readonly requests = $derived(
    [...this.hands, ...this.audience.filter((p) => p.handRaised && !this.hands.some((h) => h.id === p.id))].sort((a, b) =>
      a.joinedAt.localeCompare(b.joinedAt),
    ),
  );
  readonly audioPlan = $derived<AudioPlan>({
    spaceId: this.me && this.live && !this.removed ? (this.space?.id ?? null) : null,
    publish: this.onStage,
    muted: this.me?.muted ?? true,
  });

  #audienceActivity = $state<AudienceActivity | null>(null);
  /** Where the next page of the audience starts. */
  #audienceCursor: string | null = null;
  #api: Api;
  #options: SpaceRoomOptions;
  #stopEvents: (() => void) | null = null;
  #stopReconnect: (() => void) | null = null;
  #refetchTimer: ReturnType<typeof setTimeout> | null = null;
  #refetching = false;
  #refetchAgain = false;
  #reactionTimers = new Set<ReturnType<typeof setTimeout>>();
  #nextReactionId = 1;
  #stopped = false;
  #recapLoading: Promise<void> | null = null;

  constructor(api: Api, id: string, options: SpaceRoomOptions = {}) {
    this.#api = api;
    this.id = id;
    this.#options = options;
  }

  /** The latest AUDIENCE_UPDATED summary (large audiences only; null until one came). */
  get audienceActivity(): AudienceActivity | null {
    return this.#audienceActivity;
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Loads the space and follows its events. */
  async start(): Promise<void> {
    this.#stopped = false;
    // Subscribe first, so nothing that happens while the query runs is lost.
    this.#stopEvents = this.#api.subscribe(SpaceEventsSubscription, { spaceId: this.id }, {
      next: (data) => this.applyEvent(data.spaceEvents),
      error: (error) => {
        if (error.code === 'NOT_FOUND') this.status = 'not-found';
      },
    });
    this.#stopReconnect = this.#api.onReconnected(() => this.scheduleRefetch(0));
    await this.refetch();
  }

  stop(): void {
    this.#stopped = true;
    this.#stopEvents?.();
    this.#stopEvents = null;
    this.#stopReconnect?.();
    this.#stopReconnect = null;
    if (this.#refetchTimer) clearTimeout(this.#refetchTimer);
    this.#refetchTimer = null;
    for (const timer of this.#reactionTimers) clearTimeout(timer);
    this.#reactionTimers.clear();
  }

  /** Fetches the whole space now. */
  async refetch(): Promise<void> {
    this.fetches++;
    try {
      const data = await this.#api.query(SpaceRoomQuery, { id: this.id });
      if (this.#stopped) return;
      this.viewer = data.viewer;
      if (!data.space) {
        this.status = 'not-found';
        return;
      }
      const firstLoad = this.status === 'loading';
      this.#load(data.space);
      this.status = 'ready';
      this.error = null;
      // Back on stage after a reload (or a new tab): the mic starts off, as it does on entering;
      // the person opens it when ready, not by surprise.
      if (firstLoad && this.onStage && this.live && this.me && !this.me.muted) void this.setMuted(true);
      if (this.ended && this.viewerIsHost && !this.recap) void this.loadRecap();
    } catch (error) {
      const appError = toAppError(error);
      this.error = appError;
      if (this.status === 'loading') this.status = appError.code === 'NOT_FOUND' ? 'not-found' : 'error';
    }
  }

  /**
   * Asks for the space again after `delayMs`, coalescing: calls while one is waiting join it,
   * and calls while one is in flight cause exactly one more after it.
   */
  scheduleRefetch(delayMs = 400): void {
    if (this.#stopped) return;
    if (this.#refetching) {
      this.#refetchAgain = true;
      return;
    }
    if (this.#refetchTimer) return;
    this.#refetchTimer = setTimeout(() => {
      this.#refetchTimer = null;
      this.#refetching = true;
      void this.refetch().finally(() => {
        this.#refetching = false;
        if (this.#refetchAgain) {
          this.#refetchAgain = false;
          this.scheduleRefetch(1_000);
        }
      });
    }, delayMs);
  }

  #load(space: SpaceRoomData): void {
    const { stage, audience, hands, invitedSpeakers, viewerParticipant, ...rest } = space;
    this.space = rest;
    this.stage = [...stage].sort(byStageOrder);
    this.audience = audience.edges.map((e) => e.node).filter((p) => p.role === 'LISTENER');
    this.audienceTruncated = audience.pageInfo.hasNextPage;
    this.#audienceCursor = audience.pageInfo.endCursor ?? null;
    this.hands = hands.edges.map((e) => e.node).filter((p) => p.role === 'LISTENER' && p.handRaised);
    this.invitedSpeakers = invitedSpeakers;
    this.removed = rest.viewerRemoved;
    this.me = viewerParticipant?.present ? viewerParticipant : null;
    if (this.me && this.me.role !== 'LISTENER') this.invited = false;
    // Under INVITED only an invitation lets a listener speak: one that may speak holds one.
    else if (this.me && rest.speakerPolicy === 'INVITED' && rest.viewerCanSpeak) this.invited = true;
  }

  // -------------------------------------------------------------------------------------------
  // Events

  applyEvent(event: SpaceEventData): void {
    const viewerId = this.viewer?.id ?? null;
    switch (event.kind) {
      case 'PARTICIPANT_JOINED':
        if (event.participant) this.upsert(event.participant, true);
        break;
      case 'PARTICIPANT_UPDATED':
      case 'SPEAKING_CHANGED':
        if (event.participant) this.upsert(event.participant, false);
        break;
      case 'PARTICIPANT_LEFT':
        if (event.participant) this.drop(event.participant);
        else if (event.user) this.#dropUser(event.user.id);
        break;
      case 'REACTION':
        if (event.emoji) this.addReaction(event.emoji, event.user?.displayName ?? '');
        break;
      case 'SPEAKER_INVITED':
        if (event.user && event.user.id === viewerId) {
          if (!this.onStage) {
            this.invited = true;
            if (this.space) this.space = { ...this.space, viewerCanSpeak: true };
            this.#options.onNotice?.("You're invited to speak. Accept the invitation to go on stage.");
          }
        } else if (event.user && !this.invitedSpeakers.some((u) => u.id === event.user!.id)) {
          this.invitedSpeakers = [...this.invitedSpeakers, event.user];
        }
        break;
      case 'SPEAKER_INVITE_REVOKED':
        if (event.user && event.user.id === viewerId) {
          this.invited = false;
          this.scheduleRefetch();
        } else if (event.user) {
          this.invitedSpeakers = this.invitedSpeakers.filter((u) => u.id !== event.user!.id);
        }
        break;
      case 'SPACE_UPDATED':
        // Title, state or policy: a policy change may also move speakers and what the viewer may do.
        this.scheduleRefetch();
        break;
      case 'SPACE_ENDED':
        if (this.space) this.space = { ...this.space, state: 'ENDED', endedAt: event.at };
        this.invited = false;
        this.#stopEvents?.();
        this.#stopEvents = null;
        if (this.viewerIsHost) void this.loadRecap();
        break;
      case 'REMOVED':
        this.removed = true;
        if (this.me) this.drop(this.me);
        this.me = null;
        this.invited = false;
        this.#options.onNotice?.('You were removed from this space.');
        break;
      case 'AUDIO_RECONNECT':
        // Possibly only for some viewers (the listeners of an audience relay that died): reconnect on the current tier.
        this.#options.onAudioReconnect?.();
        break;
      case 'AUDIENCE_UPDATED':
        if (event.audience) this.#applyAudience(event.audience, event.at);
        break;
    }
  }

  /**
   * A large audience changed: the count is the server's, and who joined is a summary (listeners'
   * own joins and departures are not sent one by one past a few dozen listeners).
   */
  #applyAudience(update: AudienceUpdateData, at: string): void {
    if (this.space) {
      const delta = update.listenerCount - this.space.listenerCount;
      this.#setCounts(this.space.participantCount + delta, update.listenerCount);
    }
    if (update.joined > 0 || update.left > 0)
      this.#audienceActivity = { joined: update.joined, left: update.left, sample: update.sample, at };
  }

  /** The next page of the audience, added after the ones loaded. */
  loadMoreAudience(): Promise<boolean> {
    return this.#act('more', async () => {
      if (!this.audienceTruncated) return;
      const { space } = await this.#api.query(AudiencePageQuery, { id: this.id, after: this.#audienceCursor });
      if (!space || this.#stopped) return;
      const known = new Set([...this.audience, ...this.stage].map((p) => p.id));
      const page = space.audience.edges.map((e) => e.node).filter((p) => p.role === 'LISTENER' && !known.has(p.id));
      this.audience = [...this.audience, ...page];
      this.audienceTruncated = space.audience.pageInfo.hasNextPage;
      this.#audienceCursor = space.audience.pageInfo.endCursor ?? null;
      if (this.space && this.space.listenerCount !== space.listenerCount) {
        const delta = space.listenerCount - this.space.listenerCount;
        this.#setCounts(this.space.participantCount + delta, space.listenerCount);
      }
    });
  }

  #find(participantId: string): ParticipantData | undefined {
    return (
      this.stage.find((p) => p.id === participantId) ??
      this.audience.find((p) => p.id === participantId) ??
      this.hands.find((p) => p.id === participantId) ??
      (this.me?.id === participantId ? this.me : undefined)
    );
  }

  /**
   * Puts a participant where their role says (stage or audience) with their latest state.
   * `arrived` marks a new presence (a join): counts go up only for someone not already known.
   */
  upsert(p: ParticipantData, arrived: boolean): void {
    if (!p.present) {
      this.drop(p);
      return;
    }
    const known = this.#find(p.id);
    if (this.space) {
      let { participantCount, listenerCount } = this.space;
      if (!known) {
        if (arrived) {
          participantCount++;
          if (p.role === 'LISTENER') listenerCount++;
        } else if (this.audienceTruncated && isStageRole(p.role)) {
          // Someone from past the first page of the audience went on stage.
          listenerCount--;
        }
      } else if (known.role !== p.role) {
        if (known.role === 'LISTENER') listenerCount--;
        if (p.role === 'LISTENER') listenerCount++;
      }
      this.#setCounts(participantCount, listenerCount);
    }
    if (p.role === 'LISTENER' && p.handRaised) {
      const at = this.hands.findIndex((s) => s.id === p.id);
      this.hands = at >= 0 ? this.hands.map((s, i) => (i === at ? p : s)) : [...this.hands, p];
    } else if (this.hands.some((s) => s.id === p.id)) {
      this.hands = this.hands.filter((s) => s.id !== p.id);
    }
    if (isStageRole(p.role)) {
      const rest = this.stage.filter((s) => s.id !== p.id);
      this.stage = [...rest, p].sort(byStageOrder);
      this.audience = this.audience.filter((s) => s.id !== p.id);
    } else {
      this.stage = this.stage.filter((s) => s.id !== p.id);
      const at = this.audience.findIndex((s) => s.id === p.id);
      this.audience = at >= 0 ? this.audience.map((s, i) => (i === at ? p : s)) : [...this.audience, p];
    }
    if (p.user.id === this.viewer?.id) {
      this.me = p;
      if (p.role !== 'LISTENER') this.invited = false;
    }
  }

  /** Someone left (or was removed). */
  drop(p: ParticipantData): void {
    const known = this.#find(p.id);
    if (this.space && (known || this.audienceTruncated)) {
      const role = known?.role ?? p.role;
      this.#setCounts(this.space.participantCount - 1, this.space.listenerCount - (role === 'LISTENER' ? 1 : 0));
    }
    this.stage = this.stage.filter((s) => s.id !== p.id);
    this.audience = this.audience.filter((s) => s.id !== p.id);
    this.hands = this.hands.filter((s) => s.id !== p.id);
    if (this.me?.id === p.id || p.user.id === this.viewer?.id) this.me = null;
  }

  #dropUser(userId: string): void {
    const p = [...this.stage, ...this.audience, ...this.hands].find((s) => s.user.id === userId);
    if (p) this.drop(p);
  }

  #setCounts(participantCount: number, listenerCount: number): void {
    if (!this.space) return;
    this.space = {
      ...this.space,
      participantCount: Math.max(0, participantCount),
      listenerCount: Math.max(0, Math.min(listenerCount, participantCount)),
    };
  }

  addReaction(emoji: string, by: string): void {
    const random = this.#options.random ?? Math.random;
    const reaction: FloatingReaction = { id: this.#nextReactionId++, emoji, by, left: Math.round(8 + random() * 80) };
    this.reactions = [...this.reactions.slice(-(MAX_REACTIONS - 1)), reaction];
    const timer = setTimeout(() => {
      this.#reactionTimers.delete(timer);
      this.reactions = this.reactions.filter((r) => r.id !== reaction.id);
    }, this.#options.reactionMs ?? 3_000);
    this.#reactionTimers.add(timer);
  }

  // -------------------------------------------------------------------------------------------
  // Actions: each resolves true when it worked; errors go to onError in words.

  async #act(name: string, action: () => Promise<void>): Promise<boolean> {
    if (this.busy === name) return false;
    this.busy = name;
    try {
      await action();
      return true;
    } catch (error) {
      this.#options.onError?.(toAppError(error));
      return false;
    } finally {
      if (this.busy === name) this.busy = null;
    }
  }

  join(): Promise<boolean> {
    return this.#act('join', async () => {
      const { joinSpace } = await this.#api.mutate(JoinSpaceMutation, { spaceId: this.id });
      this.upsert(joinSpace, true);
      this.me = joinSpace;
    });
  }

  leave(): Promise<boolean> {
    return this.#act('leave', async () => {
      const me = this.me;
      await this.#api.mutate(LeaveSpaceMutation, { spaceId: this.id });
      if (me) this.drop(me);
      this.me = null;
    });
  }

  /** Mutes at once (nothing should leak while the server answers); unmutes when the server agrees. */
  setMuted(muted: boolean): Promise<boolean> {
    return this.#act('mute', async () => {
      const before = this.me;
      if (muted && before) this.me = { ...before, muted: true };
      try {
        const { setMuted } = await this.#api.mutate(SetMutedMutation, { spaceId: this.id, muted });
        this.upsert(setMuted, false);
      } catch (error) {
        if (before && this.me?.id === before.id) this.me = { ...this.me, muted: before.muted };
        throw error;
      }
    });
  }

  raiseHand(raised: boolean): Promise<boolean> {
    return this.#act('hand', async () => {
      const { requestToSpeak } = await this.#api.mutate(RequestToSpeakMutation, { spaceId: this.id, raised });
      this.upsert(requestToSpeak, false);
    });
  }

  acceptInvite(): Promise<boolean> {
    return this.#act('accept', async () => {
      const { acceptSpeakerInvite } = await this.#api.mutate(AcceptInviteMutation, { spaceId: this.id });
      this.invited = false;
      this.upsert(acceptSpeakerInvite, false);
    });
  }

  /** A speaker or co-host goes back to the audience. */
  stepDown(): Promise<boolean> {
    const me = this.me;
    if (!me) return Promise.resolve(false);
    return this.setRole(me.user.id, 'LISTENER');
  }

  react(emoji: string): Promise<boolean> {
    return this.#act(`react`, async () => {
      await this.#api.mutate(ReactMutation, { spaceId: this.id, emoji });
    });
  }

  // Moderation (host and co-hosts; the server decides who may do what to whom).

  setRole(userId: string, role: Role): Promise<boolean> {
    return this.#act(`role:${userId}`, async () => {
      const { setParticipantRole } = await this.#api.mutate(SetRoleMutation, { spaceId: this.id, userId, role });
      this.upsert(setParticipantRole, false);
    });
  }

  /** Lets a raised hand on stage. */
  approve(userId: string): Promise<boolean> {
    return this.setRole(userId, 'SPEAKER');
  }

  mute(userId: string): Promise<boolean> {
    return this.#act(`mute:${userId}`, async () => {
      const { muteParticipant } = await this.#api.mutate(MuteParticipantMutation, { spaceId: this.id, userId });
      this.upsert(muteParticipant, false);
    });
  }

  muteAll(): Promise<boolean> {
    return this.#act('muteAll', async () => {
      await this.#api.mutate(MuteAllMutation, { spaceId: this.id });
      // Everyone muted but the hosts; the events that follow confirm each one.
      this.stage = this.stage.map((p) => (p.role === 'SPEAKER' ? { ...p, muted: true } : p));
    });
  }

  remove(userId: string): Promise<boolean> {
    return this.#act(`remove:${userId}`, async () => {
      await this.#api.mutate(RemoveParticipantMutation, { spaceId: this.id, userId });
      this.#dropUser(userId);
    });
  }

  /** Invites someone by handle (with or without the @). */
  inviteByHandle(handle: string): Promise<boolean> {
    return this.#act('invite', async () => {
      const clean = handle.trim().replace(/^@/, '');
      if (!clean) throw new AppError('BAD_USER_INPUT', 'Enter the handle of the person to invite.', { field: 'handle' });
      const { user } = await this.#api.query(UserByHandleQuery, { handle: clean });
      if (!user) throw new AppError('NOT_FOUND', `No one has the handle @${clean}.`);
      const { inviteSpeaker } = await this.#api.mutate(InviteSpeakerMutation, { spaceId: this.id, userId: user.id });
      this.invitedSpeakers = inviteSpeaker.invitedSpeakers;
    });
  }

  invite(userId: string): Promise<boolean> {
    return this.#act(`invite:${userId}`, async () => {
      const { inviteSpeaker } = await this.#api.mutate(InviteSpeakerMutation, { spaceId: this.id, userId });
      this.invitedSpeakers = inviteSpeaker.invitedSpeakers;
    });
  }

  revokeInvite(userId: string): Promise<boolean> {
    return this.#act(`revoke:${userId}`, async () => {
      const { revokeSpeakerInvite } = await this.#api.mutate(RevokeInviteMutation, { spaceId: this.id, userId });
      this.invitedSpeakers = revokeSpeakerInvite.invitedSpeakers;
    });
  }

  setPolicy(policy: SpeakerPolicy): Promise<boolean> {
    return this.#act('policy', async () => {
      const { setSpeakerPolicy } = await this.#api.mutate(SetPolicyMutation, { spaceId: this.id, policy });
      if (this.space) this.space = { ...this.space, speakerPolicy: setSpeakerPolicy.speakerPolicy };
      this.scheduleRefetch();
    });
  }

  end(): Promise<boolean> {
    return this.#act('end', async () => {
      const { endSpace } = await this.#api.mutate(EndSpaceMutation, { spaceId: this.id });
      if (this.space) this.space = { ...this.space, state: endSpace.state, endedAt: endSpace.endedAt ?? null };
      void this.loadRecap();
    });
  }

  /** The host's recap, once the space has ended (the server answers null for anyone else). */
  async loadRecap(): Promise<void> {
    if (this.recap) return;
    if (this.#recapLoading) return this.#recapLoading;
    this.#recapLoading = (async () => {
      try {
        const { space } = await this.#api.query(SpaceRecapQuery, { id: this.id });
        if (!this.#stopped && space?.recap) this.recap = space.recap;
      } catch {
        // The end screen falls back to its plain message; nothing to tell the host about.
      } finally {
        this.#recapLoading = null;
      }
    })();
    return this.#recapLoading;
  }

  /** Host: a scheduled space goes live now. */
  startNow(): Promise<boolean> {
    return this.#act('start', async () => {
      await this.#api.mutate(StartSpaceMutation, { spaceId: this.id });
      await this.refetch();
    });
  }
}

/** What the viewer may do to another participant (the server decides; this only hides buttons). */
export interface ModerationChoices {
  mute: boolean;
  takeOffStage: boolean;
  makeSpeaker: boolean;
  makeCoHost: boolean;
  inviteToSpeak: boolean;
  remove: boolean;
}

export function moderationChoices(
  viewer: { userId: string; role: Role | null } | null,
  target: ParticipantData,
): ModerationChoices {
  const none: ModerationChoices = {
    mute: false,
    takeOffStage: false,
    makeSpeaker: false,
    makeCoHost: false,
    inviteToSpeak: false,
    remove: false,
  };
  if (!viewer || !isModeratorRole(viewer.role) || viewer.userId === target.user.id) return none;
  if (target.role === 'HOST') return none;
  if (viewer.role === 'CO_HOST' && target.role === 'CO_HOST') return none;
  const host = viewer.role === 'HOST';
  return {
    mute: isStageRole(target.role) && !target.muted,
    takeOffStage: isStageRole(target.role),
    // A raised hand goes on stage; a co-host can be made a plain speaker by the host.
    makeSpeaker: (target.role === 'LISTENER' && target.handRaised) || (host && target.role === 'CO_HOST'),
    makeCoHost: host && target.role !== 'CO_HOST',
    inviteToSpeak: target.role === 'LISTENER' && !target.handRaised,
    remove: true,
  };
}
