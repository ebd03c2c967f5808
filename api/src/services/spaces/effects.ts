import type { ParticipantRow } from './reads.ts';
import { isHeardAtMixer, isOnStage, type Role } from '../../domain/rules.ts';
import type { EventBus, SpaceEventPayload } from '../../pubsub.ts';
import { AudienceAggregator, type ListenerCounter, type ListenerMove } from './audience.ts';
import type { Notice } from '../notifications.ts';

export type SpaceEventKind =
  | 'PARTICIPANT_JOINED'
  | 'PARTICIPANT_LEFT'
  | 'PARTICIPANT_UPDATED'
  | 'SPEAKING_CHANGED'
  | 'SPEAKER_INVITED'
  | 'SPEAKER_INVITE_REVOKED'
  | 'REACTION'
  | 'SPACE_UPDATED'
  | 'SPACE_ENDED'
  | 'REMOVED'
  | 'AUDIO_RECONNECT'
  | 'AUDIENCE_UPDATED';

export type SpaceEvent = Omit<SpaceEventPayload, 'spaceId' | 'at'> & { kind: SpaceEventKind };

/** What a committed change means for the world outside the database. */
export type Effect =
  | {
      kind: 'event';
      spaceId: string;
      event: SpaceEvent;
      at: string;
      /**
       * A listener's join or leave: summarised (AudienceAggregator) instead of published on its
       * own while the space is `crowded` (more than AUDIENCE_EVENT_THRESHOLD listeners).
       */
      listener?: { crowded: boolean };
      /** A listener's own audio changed (connected or not): only they hear of it in a crowded space. */
      listenerAudio?: boolean;
    }
  /**
   * These users joined or left a live stage (or its space started or ended), or a scheduled space
   * they host was created, changed or cancelled: spaces bars change.
   */
  | { kind: 'stage'; userIds: string[] }
  /** Notifications to create (services/notifications.ts), once the change is committed. */
  | { kind: 'notice'; notice: Notice }
  /** The space's room must be made to match the database again. */
  | { kind: 'room'; spaceId: string };

const present = (p: ParticipantRow | null | undefined): p is ParticipantRow => !!p && p.leftAt === null;
const onStage = (p: ParticipantRow | null | undefined) => present(p) && isOnStage(p.role as Role);
const heard = (p: ParticipantRow | null | undefined) =>
  present(p) && isHeardAtMixer({ role: p.role as Role, muted: p.muted, present: true });

/**
 * The effects of one transaction, collected while it runs and carried out by the Dispatcher only
 * after it commits (a rolled-back change has none). Spaces-bar activity and room reconciliation
 * are derived here from what happened to participants, so no mutation decides them by hand.
 */
export class Effects {
  readonly #list: Effect[] = [];

  constructor(readonly spaceId: string) {}

  get list(): readonly Effect[] {
    return this.#list;
  }

  event(event: SpaceEvent): void {
    this.#list.push({ kind: 'event', spaceId: this.spaceId, event, at: new Date().toISOString() });
  }

  /**
   * A listener joined or left. `crowded`: the space has more than AUDIENCE_EVENT_THRESHOLD
   * listeners now (as this transaction sees it), so the move goes into an AUDIENCE_UPDATED.
   */
  listenerMoved(kind: 'PARTICIPANT_JOINED' | 'PARTICIPANT_LEFT', row: ParticipantRow, crowded: boolean): void {
    const event: SpaceEvent = { kind, participantId: row.id, userId: row.userId };
    this.#list.push({ kind: 'event', spaceId: this.spaceId, event, at: new Date().toISOString(), listener: { crowded } });
  }

  /** A listener's audio connection changed: PARTICIPANT_UPDATED, told only to them in crowded spaces. */
  listenerAudio(row: ParticipantRow): void {
    const event: SpaceEvent = { kind: 'PARTICIPANT_UPDATED', participantId: row.id, userId: row.userId };
    this.#list.push({ kind: 'event', spaceId: this.spaceId, event, at: new Date().toISOString(), listenerAudio: true });
  }

  stage(...userIds: string[]): void {
    if (userIds.length > 0) this.#list.push({ kind: 'stage', userIds });
  }

  room(): void {
    this.#list.push({ kind: 'room', spaceId: this.spaceId });
  }

  /** A scheduled space of this host was created, edited or cancelled: their followers' bars change. */
  scheduleChanged(hostId: string): void {
    this.stage(hostId);
  }

  /** People must be told (in-app notifications), after commit. */
  notify(notice: Notice): void {
    this.#list.push({ kind: 'notice', notice });
  }

  /** A participant row changed from `before` to `after` (null: did not exist / gone). */
  participant(before: ParticipantRow | null, after: ParticipantRow | null): void {
    const row = after ?? before;
    if (!row) return;
    if (onStage(before) !== onStage(after)) this.stage(row.userId);
    // Who is heard, or who may hold audio, changed: the mixer must follow.
    if (heard(before) !== heard(after) || present(before) !== present(after) || before?.mixerParticipantId !== after?.mixerParticipantId)
      this.room();
  }

  /** The space started or ended: everyone on its stage appears on, or leaves, spaces bars. */
  spaceState(stageUserIds: string[]): void {
    this.stage(...stageUserIds);
    this.room();
  }
}

/** Where queued room reconciliations go (the mixer), when there is one. */
export type RoomSink = (spaceId: string) => void;
/** Where notices go (services/notifications.ts). */
export type NoticeSink = (notice: Notice) => Promise<unknown>;

/**
 * A targeted event's userIds per payload: each id is 39 bytes of JSON, and a payload must stay
 * under NOTIFY's 8,000 bytes with room for the rest.
 */
const TARGETED_IDS_PER_PAYLOAD = 150;

/**
 * The one channel for what happens after a commit: events published in order, one spaces-bar
 * activity message for all the stage changes, and each touched room queued once.
 */
export class Dispatcher {
  #roomSink: RoomSink | null = null;
  #noticeSink: NoticeSink | null = null;
  /** Large audiences' joins and leaves, summarised. */
  readonly #audience: AudienceAggregator;

  constructor(private readonly events: EventBus) {
    this.#audience = new AudienceAggregator((spaceId, event) => this.#publish(spaceId, event, new Date().toISOString()));
  }

  /** The space reads register here: audience summaries carry the listener count they read. */
  countListenersWith(counter: ListenerCounter): void {
    this.#audience.countWith(counter);
  }

  /** The app is stopping: no summary goes out after this. */
  close(): void {
    this.#audience.close();
  }

  /** The mixer registers here to be told which rooms to reconcile. */
  onRoomChanged(sink: RoomSink): void {
    this.#roomSink = sink;
  }

  /** The notifications service registers here to create the notices of committed changes. */
  onNotice(sink: NoticeSink): void {
    this.#noticeSink = sink;
  }

  dispatch(effects: Effects | readonly Effect[]): void {
    const list = effects instanceof Effects ? effects.list : effects;
    const stageUsers = new Set<string>();
    const rooms = new Set<string>();
    const notices: Notice[] = [];
    for (const effect of list) {
      if (effect.kind === 'event') {
        if (effect.listener && this.#audience.take(effect.spaceId, effect.event as ListenerMove, effect.listener.crowded)) continue;
        if (effect.listenerAudio && effect.event.userId && this.#audience.isCrowded(effect.spaceId)) {
          this.#publish(effect.spaceId, { ...effect.event, userIds: [effect.event.userId] }, effect.at);
          continue;
        }
        if (effect.event.kind === 'SPACE_ENDED') this.#audience.forget(effect.spaceId);
        this.#publish(effect.spaceId, effect.event, effect.at);
      } else if (effect.kind === 'stage') for (const id of effect.userIds) stageUsers.add(id);
      else if (effect.kind === 'notice') notices.push(effect.notice);
      else rooms.add(effect.spaceId);
    }
    if (stageUsers.size > 0) this.events.pubsub.publish('activity', { userIds: [...stageUsers], at: new Date().toISOString() });
    if (this.#roomSink) for (const spaceId of rooms) this.#roomSink(spaceId);
    // Created in order, after the change committed; a failure is logged, never the change's.
    if (this.#noticeSink && notices.length > 0) {
      const sink = this.#noticeSink;
      this.#notices = this.#notices.then(async () => {
        for (const notice of notices)
          await sink(notice).catch((error) => console.error(`[notifications] ${notice.kind} could not be created`, error));
      });
    }
  }

  #notices: Promise<void> = Promise.resolve();

  /** Resolves once the notices dispatched so far are created (tests, shutdown). */
  noticesSettled(): Promise<void> {
    return this.#notices;
  }

  /** One event on its space's topic; a long list of addressees goes out in several payloads. */
  #publish(spaceId: string, event: SpaceEvent, at: string): void {
    const ids = event.userIds;
    if (!ids || ids.length <= TARGETED_IDS_PER_PAYLOAD) {
      this.events.pubsub.publish('space', spaceId, { ...event, spaceId, at });
      return;
    }
    for (let from = 0; from < ids.length; from += TARGETED_IDS_PER_PAYLOAD)
      this.events.pubsub.publish('space', spaceId, { ...event, userIds: ids.slice(from, from + TARGETED_IDS_PER_PAYLOAD), spaceId, at });
  }

  /** An event outside any transaction (reactions, audio reconnect). */
  publish(spaceId: string, event: SpaceEvent): void {
    this.dispatch([{ kind: 'event', spaceId, event, at: new Date().toISOString() }]);
  }
}
