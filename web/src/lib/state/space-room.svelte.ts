import { AppError, toAppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  AcceptInviteMutation,
  AudiencePageQuery,
  EndSpaceMutation,
  InviteSpeakerMutation,
  JoinSpaceMutation,
  LeaveSpaceMutation,
  MarkHandsSeenMutation,
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
  type ViewerData,
} from '$lib/graphql/documents';

import {
  isModerator,
  isOnStage,
  moderationChoices as rulesModerationChoices,
  mutedByMuteAll,
  ROLE_ORDER,
  speakRefusal,
  type ModerationChoices,
  type SpeakRefusal,
} from '@spaces/api/rules';

export type Role = ParticipantData['role'];
export type SpeakerPolicy = SpaceRoomData['speakerPolicy'];
export type SpaceState = SpaceRoomData['state'];
export type { ModerationChoices, SpeakRefusal };

/** The emoji the API accepts for reactions (the API's list: one source). */
export { REACTIONS } from '@spaces/api/rules';

export const ROLE_LABELS: Record<Role, string> = {
  HOST: 'Host',
  CO_HOST: 'Co-host',
  SPEAKER: 'Speaker',
  LISTENER: 'Listener',
};

export const isStageRole = (role: Role | null | undefined): boolean => isOnStage(role);
export const isModeratorRole = (role: Role | null | undefined): boolean => isModerator(role);

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

/** An action of the room that takes no target. */
export type RoomActionName =
  | 'join'
  | 'leave'
  | 'setMuted'
  | 'raiseHand'
  | 'acceptInvite'
  | 'react'
  | 'loadMoreAudience'
  | 'muteAll'
  | 'inviteByHandle'
  | 'setPolicy'
  | 'end'
  | 'startNow'
  | 'markHandsSeen';
/** An action of a moderator on one person. */
export type TargetedActionName = 'setRole' | 'mute' | 'remove' | 'invite' | 'revokeInvite';
/** The action in flight: buttons show it and do not submit twice. */
export type RoomAction = { name: RoomActionName } | { name: TargetedActionName; userId: string };

const sameAction = (a: RoomAction, b: RoomAction): boolean =>
  a.name === b.name && ('userId' in a ? a.userId : null) === ('userId' in b ? b.userId : null);

export type RoomNoticeKind = 'info' | 'success' | 'error';
/**
 * Something that happened to the viewer, worth telling them. `key` groups notices that replace
 * each other (a later role change replaces the earlier one's notice).
 */
export interface RoomNotice {
  message: string;
  kind: RoomNoticeKind;
  key?: string;
}

export interface SpaceRoomOptions {
  /** Errors of actions, already put into words. */
  onError?: (error: AppError) => void;
  /** Things worth telling the person (made a speaker, muted by a host, removed, the policy changed). */
  onNotice?: (notice: RoomNotice) => void;
  /** The mixer restarted: the audio connection should send a new offer. */
  onAudioReconnect?: () => void;
  /** How long a reaction floats (ms). */
  reactionMs?: number;
  random?: () => number;
}

const MAX_REACTIONS = 30;

/** "Anyone can ask to speak", from the viewer's side of the space's policy. */
export function describePolicy(policy: SpeakerPolicy, hostHandle: string): string {
  switch (policy) {
    case 'EVERYONE':
      return 'Anyone can ask to speak';
    case 'FOLLOWING':
      return `People @${hostHandle} follows can speak`;
    case 'INVITED':
      return `Only people @${hostHandle} invites can speak`;
  }
}

/** Why the viewer may not ask to speak, in words (null: they may). */
export function describeSpeakRefusal(refusal: SpeakRefusal | null, hostHandle: string): string | null {
  switch (refusal) {
    case null:
      return null;
    case 'GUEST':
      return 'Sign in to ask to speak';
    case 'REMOVED':
      return "You were removed from this space, so you can't speak in it.";
    case 'POLICY_FOLLOWING':
      return `Only people @${hostHandle} follows can speak`;
    case 'POLICY_INVITED':
      return `Only people @${hostHandle} invites can speak`;
  }
}

/** "Muted 4 speakers; co-hosts keep their mics" (what "Mute all" did). */
export function describeMuteAll(muted: number): string {
  if (muted === 0) return 'No speaker had a mic on; co-hosts keep their mics.';
  return `Muted ${muted} ${muted === 1 ? 'speaker' : 'speakers'}; co-hosts keep their mics.`;
}

/**
 * One space as its page shows it, kept live by Subscription.spaceEvents.
 *
 * Events patch the state in place (a participant joined, changed, left; a reaction; an
 * invitation), so a busy space costs no extra requests. The few events whose effects cannot be
 * patched (a policy or state change) and a socket reconnect schedule one refetch, coalesced:
 * however many arrive, at most one request is in flight and one more waits behind it.
 *
 * Its state is read through getters and changed only by its own methods (events and actions).
 */
export class SpaceRoom {
  readonly id: string;

  #status = $state<RoomStatus>('loading');
  #error = $state<AppError | null>(null);
  #space = $state<RoomSpace | null>(null);
  #stage = $state<ParticipantData[]>([]);
  #audience = $state<ParticipantData[]>([]);
  #audienceTruncated = $state(false);
  #hands = $state<ParticipantData[]>([]);
  #invitedSpeakers = $state<UserBasic[]>([]);
  #viewer = $state<ViewerData | null>(null);
  #me = $state<ParticipantData | null>(null);
  #invited = $state(false);
  #inviteDismissed = $state(false);
  #removed = $state(false);
  #recap = $state<SpaceRecapData | null>(null);
  #reactions = $state<FloatingReaction[]>([]);
  #busy = $state<RoomAction | null>(null);
  #fetches = $state(0);
  #audienceActivity = $state<AudienceActivity | null>(null);
  // No $derived here: a room outlives the page that made it (activeSpace), and a derived made
  // while a component initialises is torn down with that component. Getters compute on read.

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
  /** The viewer's own mute/unmute is in flight: a mute that follows is theirs, not a host's. */
  #mutingSelf = false;

  constructor(api: Api, id: string, options: SpaceRoomOptions = {}) {
    this.#api = api;
    this.id = id;
    this.#options = options;
  }

  get status(): RoomStatus {
    return this.#status;
  }
  get error(): AppError | null {
    return this.#error;
  }
  get space(): RoomSpace | null {
    return this.#space;
  }
  get stage(): ParticipantData[] {
    return this.#stage;
  }
  /** The pages of the audience loaded so far (listeners, raised hands included). */
  get audience(): ParticipantData[] {
    return this.#audience;
  }
  /** More listeners exist than the pages loaded (see `loadMoreAudience`). */
  get audienceTruncated(): boolean {
    return this.#audienceTruncated;
  }
  /** Listeners with a raised hand (their own first page: past the audience's first page too). */
  get hands(): ParticipantData[] {
    return this.#hands;
  }
  get invitedSpeakers(): UserBasic[] {
    return this.#invitedSpeakers;
  }
  get viewer(): ViewerData | null {
    return this.#viewer;
  }
  /** The viewer's participation (null when not in the space). */
  get me(): ParticipantData | null {
    return this.#me;
  }
  /** The viewer holds an invitation to speak that they have not accepted yet. */
  get invited(): boolean {
    return this.#invited;
  }
  /** The in-room invitation prompt is showing (invited, and not put off with "Not now"). */
  get invitePrompt(): boolean {
    return this.#invited && !this.#inviteDismissed && !!this.#me && !this.onStage;
  }
  /** The viewer was removed from this space (told by the server on load, or as it happens): no rejoining. */
  get removed(): boolean {
    return this.#removed;
  }
  /** The host's recap of an ended space (duration, peak listeners, who spoke); null for others. */
  get recap(): SpaceRecapData | null {
    return this.#recap;
  }
  get reactions(): FloatingReaction[] {
    return this.#reactions;
  }
  /** The action in flight (null: none). */
  get busy(): RoomAction | null {
    return this.#busy;
  }
  /** How many times the space was fetched (the first load included). */
  get fetches(): number {
    return this.#fetches;
  }
  get role(): Role | null {
    return this.#me?.role ?? null;
  }
  get isHost(): boolean {
    return this.role === 'HOST';
  }
  get isModerator(): boolean {
    return isModeratorRole(this.role);
  }
  get onStage(): boolean {
    return isStageRole(this.role);
  }
  get live(): boolean {
    return this.#space?.state === 'LIVE';
  }
  get ended(): boolean {
    return this.#space?.state === 'ENDED';
  }
  /** The viewer hosts this space (present or not: a host who ended it is no longer present). */
  get viewerIsHost(): boolean {
    return !!this.#viewer && this.#space?.host.id === this.#viewer.id;
  }
  /** Raised hands in the audience, oldest first: the moderators' queue. */
  get requests(): ParticipantData[] {
    return [...this.#hands, ...this.#audience.filter((p) => p.handRaised && !this.#hands.some((h) => h.id === p.id))].sort((a, b) =>
      a.joinedAt.localeCompare(b.joinedAt),
    );
  }
  /** Raised hands no host has seen yet (the Manage speakers badge). */
  get unseenRequests(): number {
    return this.requests.filter((p) => !p.handSeen).length;
  }
  get audioPlan(): AudioPlan {
    return {
      spaceId: this.#me && this.live && !this.#removed ? (this.#space?.id ?? null) : null,
      publish: this.onStage,
      muted: this.#me?.muted ?? true,
    };
  }
  /** The latest AUDIENCE_UPDATED summary (large audiences only; null until one came). */
  get audienceActivity(): AudienceActivity | null {
    return this.#audienceActivity;
  }
  /** Who can speak, from the viewer's side ("People @hana follows can speak"). */
  get policyText(): string | null {
    return this.#space ? describePolicy(this.#space.speakerPolicy, this.#space.host.handle) : null;
  }
  /** Why the viewer (a listener, or someone not in the space) may not ask to speak; null when they may. */
  get speakRefusal(): SpeakRefusal | null {
    const space = this.#space;
    if (!space) return null;
    return speakRefusal({
      isGuest: this.#viewer?.isGuest ?? false,
      removed: this.#removed,
      policy: space.speakerPolicy,
      eligible: space.viewerCanSpeak,
    });
  }
  /** `speakRefusal` in words. */
  get speakRefusalText(): string | null {
    return this.#space ? describeSpeakRefusal(this.speakRefusal, this.#space.host.handle) : null;
  }

  /** Whether `name` (for `userId`, when it takes one) is in flight. */
  isBusy(name: RoomActionName): boolean;
  isBusy(name: TargetedActionName, userId: string): boolean;
  isBusy(name: RoomActionName | TargetedActionName, userId?: string): boolean {
    const busy = this.#busy;
    if (!busy || busy.name !== name) return false;
    return userId === undefined || ('userId' in busy && busy.userId === userId);
  }

  #notice(message: string, kind: RoomNoticeKind = 'info', key?: string): void {
    this.#options.onNotice?.({ message, kind, key });
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
        if (error.code === 'NOT_FOUND') this.#status = 'not-found';
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
    this.#fetches++;
    try {
      const data = await this.#api.query(SpaceRoomQuery, { id: this.id });
      if (this.#stopped) return;
      this.#viewer = data.viewer;
      if (!data.space) {
        this.#status = 'not-found';
        return;
      }
      const firstLoad = this.#status === 'loading';
      const policyBefore = this.#space?.speakerPolicy;
      this.#load(data.space);
      this.#status = 'ready';
      this.#error = null;
      const policyNow = data.space.speakerPolicy;
      if (!firstLoad && policyBefore && policyBefore !== policyNow && this.live) {
        // (The host's own change is already in `space` when the refetch comes: nothing to announce to them.)
        this.#notice(`The host changed who can speak: ${describePolicy(policyNow, data.space.host.handle)}.`, 'info', 'policy');
      }
      // Back on stage after a reload (or a new tab): the mic starts off, as it does on entering;
      // the person opens it when ready, not by surprise.
      if (firstLoad && this.onStage && this.live && this.#me && !this.#me.muted) void this.setMuted(true);
      if (this.ended && this.viewerIsHost && !this.#recap) void this.loadRecap();
    } catch (error) {
      const appError = toAppError(error);
      this.#error = appError;
      if (this.#status === 'loading') this.#status = appError.code === 'NOT_FOUND' ? 'not-found' : 'error';
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
    this.#space = rest;
    this.#stage = [...stage].sort(byStageOrder);
    this.#hands = hands.edges.map((e) => e.node).filter((p) => p.role === 'LISTENER' && p.handRaised);
    // The audience's page does not carry handSeen (see SpaceRoomQuery): the hands' own list does.
    const seen = new Set(this.#hands.filter((p) => p.handSeen).map((p) => p.id));
    this.#audience = audience.edges
      .map((e) => ({ ...e.node, handSeen: e.node.handRaised && seen.has(e.node.id) }))
      .filter((p) => p.role === 'LISTENER');
    this.#audienceTruncated = audience.pageInfo.hasNextPage;
    this.#audienceCursor = audience.pageInfo.endCursor ?? null;
    this.#invitedSpeakers = invitedSpeakers;
    this.#removed = rest.viewerRemoved;
    const before = this.#me;
    this.#me = viewerParticipant?.present ? viewerParticipant : null;
    if (before && this.#me && before.id === this.#me.id) this.#tellViewer(before, this.#me);
    if (this.#me && this.#me.role !== 'LISTENER') this.#invited = false;
    // Under INVITED only an invitation lets a listener speak: one that may speak holds one.
    else if (this.#me && rest.speakerPolicy === 'INVITED' && rest.viewerCanSpeak) this.#invited = true;
  }

  /** What changed for the viewer, told to them: made speaker or co-host, muted by a host, hand seen. */
  #tellViewer(before: ParticipantData, now: ParticipantData): void {
    if (before.role !== now.role) {
      if (now.role === 'SPEAKER' && before.role === 'LISTENER')
        this.#notice("You're a speaker now. Your mic is off — unmute when you're ready.", 'success', 'role');
      else if (now.role === 'SPEAKER') this.#notice("You're a speaker now (no longer a co-host).", 'info', 'role');
      else if (now.role === 'CO_HOST') this.#notice("You're a co-host now: you can manage speakers.", 'success', 'role');
      else if (now.role === 'LISTENER' && !this.isBusy('setRole', now.user.id))
        this.#notice("You're back in the audience.", 'info', 'role');
      return;
    }
    if (isStageRole(now.role) && !before.muted && now.muted && !this.#mutingSelf) this.#notice('A host muted your microphone.', 'info', 'muted');
    if (now.role === 'LISTENER' && now.handRaised && now.handSeen && !before.handSeen)
      this.#notice('A host saw your request.', 'success', 'hand');
  }

  // -------------------------------------------------------------------------------------------
  // Events

  applyEvent(event: SpaceEventData): void {
    const viewerId = this.#viewer?.id ?? null;
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
            this.#invited = true;
            this.#inviteDismissed = false;
            if (this.#space) this.#space = { ...this.#space, viewerCanSpeak: true };
            this.#notice("You're invited to speak.", 'info', 'invite');
          }
        } else if (event.user && !this.#invitedSpeakers.some((u) => u.id === event.user!.id)) {
          this.#invitedSpeakers = [...this.#invitedSpeakers, event.user];
        }
        break;
      case 'SPEAKER_INVITE_REVOKED':
        if (event.user && event.user.id === viewerId) {
          if (this.#invited && !this.onStage) this.#notice('Your invitation to speak was withdrawn.', 'info', 'invite');
          this.#invited = false;
          this.scheduleRefetch();
        } else if (event.user) {
          this.#invitedSpeakers = this.#invitedSpeakers.filter((u) => u.id !== event.user!.id);
        }
        break;
      case 'SPACE_UPDATED':
        // Title, state or policy: a policy change may also move speakers and what the viewer may do.
        this.scheduleRefetch();
        break;
      case 'SPACE_ENDED':
        if (this.#space) this.#space = { ...this.#space, state: 'ENDED', endedAt: event.at };
        this.#invited = false;
        this.#stopEvents?.();
        this.#stopEvents = null;
        if (this.viewerIsHost) void this.loadRecap();
        break;
      case 'REMOVED':
        if (event.user && viewerId && event.user.id !== viewerId) {
          this.#dropUser(event.user.id);
          this.#invitedSpeakers = this.#invitedSpeakers.filter((u) => u.id !== event.user!.id);
          break;
        }
        this.#removed = true;
        if (this.#me) this.drop(this.#me);
        this.#me = null;
        this.#invited = false;
        this.#notice("You were removed from this space. You can't rejoin it.", 'error', 'removed');
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
    if (this.#space) {
      const delta = update.listenerCount - this.#space.listenerCount;
      this.#setCounts(this.#space.participantCount + delta, update.listenerCount);
    }
    if (update.joined > 0 || update.left > 0)
      this.#audienceActivity = { joined: update.joined, left: update.left, sample: update.sample, at };
  }

  /** The next page of the audience, added after the ones loaded. */
  loadMoreAudience(): Promise<boolean> {
    return this.#act({ name: 'loadMoreAudience' }, async () => {
      if (!this.#audienceTruncated) return;
      const { space } = await this.#api.query(AudiencePageQuery, { id: this.id, after: this.#audienceCursor });
      if (!space || this.#stopped) return;
      const known = new Set([...this.#audience, ...this.#stage].map((p) => p.id));
      const page = space.audience.edges.map((e) => e.node).filter((p) => p.role === 'LISTENER' && !known.has(p.id));
      this.#audience = [...this.#audience, ...page];
      this.#audienceTruncated = space.audience.pageInfo.hasNextPage;
      this.#audienceCursor = space.audience.pageInfo.endCursor ?? null;
      if (this.#space && this.#space.listenerCount !== space.listenerCount) {
        const delta = space.listenerCount - this.#space.listenerCount;
        this.#setCounts(this.#space.participantCount + delta, space.listenerCount);
      }
    });
  }

  #find(participantId: string): ParticipantData | undefined {
    return (
      this.#stage.find((p) => p.id === participantId) ??
      this.#audience.find((p) => p.id === participantId) ??
      this.#hands.find((p) => p.id === participantId) ??
      (this.#me?.id === participantId ? this.#me : undefined)
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
    if (this.#space) {
      let { participantCount, listenerCount } = this.#space;
      if (!known) {
        if (arrived) {
          participantCount++;
          if (p.role === 'LISTENER') listenerCount++;
        } else if (this.#audienceTruncated && isStageRole(p.role)) {
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
      const at = this.#hands.findIndex((s) => s.id === p.id);
      this.#hands = at >= 0 ? this.#hands.map((s, i) => (i === at ? p : s)) : [...this.#hands, p];
    } else if (this.#hands.some((s) => s.id === p.id)) {
      this.#hands = this.#hands.filter((s) => s.id !== p.id);
    }
    if (isStageRole(p.role)) {
      const rest = this.#stage.filter((s) => s.id !== p.id);
      this.#stage = [...rest, p].sort(byStageOrder);
      this.#audience = this.#audience.filter((s) => s.id !== p.id);
      // On stage: no longer listed as invited.
      this.#invitedSpeakers = this.#invitedSpeakers.filter((u) => u.id !== p.user.id);
    } else {
      this.#stage = this.#stage.filter((s) => s.id !== p.id);
      const at = this.#audience.findIndex((s) => s.id === p.id);
      this.#audience = at >= 0 ? this.#audience.map((s, i) => (i === at ? p : s)) : [...this.#audience, p];
    }
    if (p.user.id === this.#viewer?.id) {
      const before = this.#me;
      this.#me = p;
      if (before && before.id === p.id) this.#tellViewer(before, p);
      if (p.role !== 'LISTENER') this.#invited = false;
    }
  }

  /** Someone left (or was removed). */
  drop(p: ParticipantData): void {
    const known = this.#find(p.id);
    if (this.#space && (known || this.#audienceTruncated)) {
      const role = known?.role ?? p.role;
      this.#setCounts(this.#space.participantCount - 1, this.#space.listenerCount - (role === 'LISTENER' ? 1 : 0));
    }
    this.#stage = this.#stage.filter((s) => s.id !== p.id);
    this.#audience = this.#audience.filter((s) => s.id !== p.id);
    this.#hands = this.#hands.filter((s) => s.id !== p.id);
    if (this.#me?.id === p.id || p.user.id === this.#viewer?.id) this.#me = null;
  }

  #dropUser(userId: string): void {
    const p = [...this.#stage, ...this.#audience, ...this.#hands].find((s) => s.user.id === userId);
    if (p) this.drop(p);
  }

  #setCounts(participantCount: number, listenerCount: number): void {
    if (!this.#space) return;
    this.#space = {
      ...this.#space,
      participantCount: Math.max(0, participantCount),
      listenerCount: Math.max(0, Math.min(listenerCount, participantCount)),
    };
  }

  addReaction(emoji: string, by: string): void {
    const random = this.#options.random ?? Math.random;
    const reaction: FloatingReaction = { id: this.#nextReactionId++, emoji, by, left: Math.round(8 + random() * 80) };
    this.#reactions = [...this.#reactions.slice(-(MAX_REACTIONS - 1)), reaction];
    const timer = setTimeout(() => {
      this.#reactionTimers.delete(timer);
      this.#reactions = this.#reactions.filter((r) => r.id !== reaction.id);
    }, this.#options.reactionMs ?? 3_000);
    this.#reactionTimers.add(timer);
  }

  // -------------------------------------------------------------------------------------------
  // Actions: each resolves true when it worked; errors go to onError in words.

  async #act(action: RoomAction, run: () => Promise<void>): Promise<boolean> {
    if (this.#busy && sameAction(this.#busy, action)) return false;
    this.#busy = action;
    try {
      await run();
      return true;
    } catch (error) {
      this.#options.onError?.(toAppError(error));
      return false;
    } finally {
      if (this.#busy && sameAction(this.#busy, action)) this.#busy = null;
    }
  }

  join(): Promise<boolean> {
    return this.#act({ name: 'join' }, async () => {
      const { joinSpace } = await this.#api.mutate(JoinSpaceMutation, { spaceId: this.id });
      this.upsert(joinSpace, true);
      this.#me = joinSpace;
    });
  }

  leave(): Promise<boolean> {
    return this.#act({ name: 'leave' }, async () => {
      const me = this.#me;
      await this.#api.mutate(LeaveSpaceMutation, { spaceId: this.id });
      if (me) this.drop(me);
      this.#me = null;
    });
  }

  /** Mutes at once (nothing should leak while the server answers); unmutes when the server agrees. */
  setMuted(muted: boolean): Promise<boolean> {
    return this.#act({ name: 'setMuted' }, async () => {
      const before = this.#me;
      if (muted && before) this.#me = { ...before, muted: true };
      this.#mutingSelf = true;
      try {
        const { setMuted } = await this.#api.mutate(SetMutedMutation, { spaceId: this.id, muted });
        this.upsert(setMuted, false);
      } catch (error) {
        if (before && this.#me?.id === before.id) this.#me = { ...this.#me, muted: before.muted };
        throw error;
      } finally {
        this.#mutingSelf = false;
      }
    });
  }

  raiseHand(raised: boolean): Promise<boolean> {
    return this.#act({ name: 'raiseHand' }, async () => {
      const { requestToSpeak } = await this.#api.mutate(RequestToSpeakMutation, { spaceId: this.id, raised });
      this.upsert(requestToSpeak, false);
      if (raised) this.#notice('Request sent. The hosts will see your raised hand.', 'success', 'hand');
    });
  }

  acceptInvite(): Promise<boolean> {
    return this.#act({ name: 'acceptInvite' }, async () => {
      const { acceptSpeakerInvite } = await this.#api.mutate(AcceptInviteMutation, { spaceId: this.id });
      this.#invited = false;
      this.upsert(acceptSpeakerInvite, false);
    });
  }

  /** "Not now": the invitation prompt goes away; the invitation stays (a button in the control bar). */
  dismissInvite(): void {
    this.#inviteDismissed = true;
  }

  /** A speaker or co-host goes back to the audience. */
  stepDown(): Promise<boolean> {
    const me = this.#me;
    if (!me) return Promise.resolve(false);
    return this.setRole(me.user.id, 'LISTENER');
  }

  react(emoji: string): Promise<boolean> {
    return this.#act({ name: 'react' }, async () => {
      await this.#api.mutate(ReactMutation, { spaceId: this.id, emoji });
    });
  }

  // Moderation (host and co-hosts; the server decides who may do what to whom).

  setRole(userId: string, role: Role): Promise<boolean> {
    return this.#act({ name: 'setRole', userId }, async () => {
      const { setParticipantRole } = await this.#api.mutate(SetRoleMutation, { spaceId: this.id, userId, role });
      this.upsert(setParticipantRole, false);
    });
  }

  /** Lets a raised hand on stage. */
  approve(userId: string): Promise<boolean> {
    return this.setRole(userId, 'SPEAKER');
  }

  /** Declines a raised hand: it is lowered (the person stays a listener). */
  decline(userId: string): Promise<boolean> {
    return this.setRole(userId, 'LISTENER');
  }

  mute(userId: string): Promise<boolean> {
    return this.#act({ name: 'mute', userId }, async () => {
      const { muteParticipant } = await this.#api.mutate(MuteParticipantMutation, { spaceId: this.id, userId });
      this.upsert(muteParticipant, false);
    });
  }

  /** Mutes every speaker with an open mic (not the host and co-hosts); resolves to how many, null on failure. */
  async muteAll(): Promise<number | null> {
    const targets = this.#stage.filter(mutedByMuteAll).map((p) => p.id);
    const ok = await this.#act({ name: 'muteAll' }, async () => {
      await this.#api.mutate(MuteAllMutation, { spaceId: this.id });
      // The events that follow confirm each one.
      this.#stage = this.#stage.map((p) => (targets.includes(p.id) ? { ...p, muted: true } : p));
    });
    return ok ? targets.length : null;
  }

  remove(userId: string): Promise<boolean> {
    return this.#act({ name: 'remove', userId }, async () => {
      await this.#api.mutate(RemoveParticipantMutation, { spaceId: this.id, userId });
      this.#dropUser(userId);
      this.#invitedSpeakers = this.#invitedSpeakers.filter((u) => u.id !== userId);
    });
  }

  /** Tells the raised hands a host saw them (opening Manage speakers); nothing to do without any. */
  markHandsSeen(): Promise<boolean> {
    if (!this.isModerator || this.unseenRequests === 0) return Promise.resolve(false);
    return this.#act({ name: 'markHandsSeen' }, async () => {
      await this.#api.mutate(MarkHandsSeenMutation, { spaceId: this.id });
      // The events that follow carry each handSeen; the badge clears now.
      const seen = (p: ParticipantData) => (p.handRaised ? { ...p, handSeen: true } : p);
      this.#hands = this.#hands.map(seen);
      this.#audience = this.#audience.map(seen);
    });
  }

  /** Invites someone by handle (with or without the @). */
  inviteByHandle(handle: string): Promise<boolean> {
    return this.#act({ name: 'inviteByHandle' }, async () => {
      const clean = handle.trim().replace(/^@/, '');
      if (!clean) throw new AppError('BAD_USER_INPUT', 'Enter the handle of the person to invite.', { field: 'handle' });
      const { user } = await this.#api.query(UserByHandleQuery, { handle: clean });
      if (!user) throw new AppError('NOT_FOUND', `No one has the handle @${clean}.`);
      const { inviteSpeaker } = await this.#api.mutate(InviteSpeakerMutation, { spaceId: this.id, userId: user.id });
      this.#invitedSpeakers = inviteSpeaker.invitedSpeakers;
    });
  }

  invite(userId: string): Promise<boolean> {
    return this.#act({ name: 'invite', userId }, async () => {
      const { inviteSpeaker } = await this.#api.mutate(InviteSpeakerMutation, { spaceId: this.id, userId });
      this.#invitedSpeakers = inviteSpeaker.invitedSpeakers;
    });
  }

  revokeInvite(userId: string): Promise<boolean> {
    return this.#act({ name: 'revokeInvite', userId }, async () => {
      const { revokeSpeakerInvite } = await this.#api.mutate(RevokeInviteMutation, { spaceId: this.id, userId });
      this.#invitedSpeakers = revokeSpeakerInvite.invitedSpeakers;
    });
  }

  setPolicy(policy: SpeakerPolicy): Promise<boolean> {
    return this.#act({ name: 'setPolicy' }, async () => {
      const { setSpeakerPolicy } = await this.#api.mutate(SetPolicyMutation, { spaceId: this.id, policy });
      if (this.#space) this.#space = { ...this.#space, speakerPolicy: setSpeakerPolicy.speakerPolicy };
      this.scheduleRefetch();
    });
  }

  end(): Promise<boolean> {
    return this.#act({ name: 'end' }, async () => {
      const { endSpace } = await this.#api.mutate(EndSpaceMutation, { spaceId: this.id });
      if (this.#space) this.#space = { ...this.#space, state: endSpace.state, endedAt: endSpace.endedAt ?? null };
      void this.loadRecap();
    });
  }

  /** The host's recap, once the space has ended (the server answers null for anyone else). */
  async loadRecap(): Promise<void> {
    if (this.#recap) return;
    if (this.#recapLoading) return this.#recapLoading;
    this.#recapLoading = (async () => {
      try {
        const { space } = await this.#api.query(SpaceRecapQuery, { id: this.id });
        if (!this.#stopped && space?.recap) this.#recap = space.recap;
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
    return this.#act({ name: 'startNow' }, async () => {
      await this.#api.mutate(StartSpaceMutation, { spaceId: this.id });
      await this.refetch();
    });
  }
}

/** What the viewer may do to another participant (the API's rules; the server still decides). */
export function moderationChoices(
  viewer: { userId: string; role: Role | null } | null,
  target: ParticipantData,
): ModerationChoices {
  return rulesModerationChoices(viewer ?? { userId: '', role: null }, {
    userId: target.user.id,
    role: target.role,
    muted: target.muted,
    handRaised: target.handRaised,
  });
}
