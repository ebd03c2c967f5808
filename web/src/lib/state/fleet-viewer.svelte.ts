import { toAppError, type AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  DeleteFleetMutation,
  FleetRepliesQuery,
  FleetViewersQuery,
  MarkFleetSeenMutation,
  ReplyToFleetMutation,
  type FleetAuthorData,
  type FleetData,
  type FleetReplyData,
  type FleetViewerData,
} from '$lib/graphql/documents';
import { PagedList } from './paged-list.svelte';
import { FLEET_TEXT_MAX, lengthOf, oneLine, orderFleetAuthors, replyRefusalText } from './fleets.svelte';

/** How long one fleet stays before the next (the "a few seconds"). */
export const FLEET_DURATION_MS = 5000;
const PAGE = 20;

/** One author's fleets as the viewer plays them (oldest first). */
export type ViewerAuthor = Pick<FleetAuthorData, 'user' | 'fleets'>;

/**
 * Whose fleets the viewer plays, starting at `handle`: the viewer's own alone, or the followed
 * authors in the bar's order (unseen first) from that one on. Null when `handle` is not on the bar
 * (a shared link, a notification): the page then loads that author alone.
 */
export function fleetQueue(bar: FleetAuthorData[], viewerId: string | null, handle: string): { authors: ViewerAuthor[]; start: number } | null {
  const own = bar.find((a) => a.user.id === viewerId && a.user.handle.toLowerCase() === handle.toLowerCase());
  if (own) return own.fleets.length > 0 ? { authors: [own], start: 0 } : null;
  const others = orderFleetAuthors(bar, viewerId);
  const start = others.findIndex((a) => a.user.handle.toLowerCase() === handle.toLowerCase());
  return start < 0 ? null : { authors: others, start };
}

export type FleetPanel = 'viewers' | 'replies' | null;
export type SegmentState = 'done' | 'current' | 'todo';

export interface FleetViewerOptions {
  viewerId: string | null;
  authors: ViewerAuthor[];
  /** Which author to start at (index into authors). */
  start?: number;
  /** A fleet to start at (a notification's link); else the author's first unseen one. */
  fleetId?: string | null;
  durationMs?: number;
  /** Called once, when the last fleet ended or the person closed the viewer. */
  onClose?: () => void;
}

/**
 * The full-screen fleets viewer: one author's fleets after another, each for a few seconds
 * (progress segments), forward and back, paused while held, while the tab is hidden and while
 * the person types a reply or reads a list; marks each fleet seen as it shows. The author gets
 * who viewed it and the replies (paged) and can delete it; others reply or react, or read why
 * they cannot.
 */
export class FleetViewer {
  #authors = $state<ViewerAuthor[]>([]);
  #authorIndex = $state(0);
  #fleetIndex = $state(0);
  /** Bumped each time a fleet (re)starts: the progress animation restarts with it. */
  #run = $state(0);
  #held = $state(false);
  /** Paused with the Pause button (keyboard and screen reader users: WCAG 2.2.2). */
  #stopped = $state(false);
  #hidden = $state(false);
  #typing = $state(false);
  #confirming = $state(false);
  #panel = $state<FleetPanel>(null);
  #closed = $state(false);
  #sent = $state<string | null>(null);
  #replyError = $state<AppError | null>(null);
  #sending = $state(false);
  #deleting = $state(false);
  #error = $state<AppError | null>(null);
  replyText = $state('');

  #timer: ReturnType<typeof setTimeout> | null = null;
  #startedAt = 0;
  #remaining: number;
  #duration: number;
  #viewerId: string | null;
  #onClose: (() => void) | undefined;
  #api: Api;
  #viewers: PagedList<FleetViewerData> | null = $state(null);
  #replies: PagedList<FleetReplyData> | null = $state(null);

  constructor(api: Api, options: FleetViewerOptions) {
    this.#api = api;
    this.#viewerId = options.viewerId;
    this.#duration = options.durationMs ?? FLEET_DURATION_MS;
    this.#remaining = this.#duration;
    this.#onClose = options.onClose;
    this.#authors = options.authors.filter((a) => a.fleets.length > 0);
    this.#authorIndex = Math.min(Math.max(options.start ?? 0, 0), Math.max(this.#authors.length - 1, 0));
    const fleets = this.author?.fleets ?? [];
    const wanted = options.fleetId ? fleets.findIndex((f) => f.id === options.fleetId) : -1;
    // Someone else's fleets start at the first one not seen yet (all seen: from the start).
    const unseen = this.isOwn ? -1 : fleets.findIndex((f) => !f.viewerHasSeen);
    this.#fleetIndex = wanted >= 0 ? wanted : Math.max(unseen, 0);
  }

  // --- what is shown -------------------------------------------------------------------------

  get author(): ViewerAuthor | null {
    return this.#authors[this.#authorIndex] ?? null;
  }
  get fleet(): FleetData | null {
    return this.author?.fleets[this.#fleetIndex] ?? null;
  }
  get fleetIndex(): number {
    return this.#fleetIndex;
  }
  get fleetCount(): number {
    return this.author?.fleets.length ?? 0;
  }
  /** "Fleet 2 of 4": the progress in words. */
  get progressLabel(): string {
    return `Fleet ${this.#fleetIndex + 1} of ${this.fleetCount}`;
  }
  get segments(): SegmentState[] {
    return (this.author?.fleets ?? []).map((_, i) => (i < this.#fleetIndex ? 'done' : i === this.#fleetIndex ? 'current' : 'todo'));
  }
  get run(): number {
    return this.#run;
  }
  get durationMs(): number {
    return this.#duration;
  }
  get isOwn(): boolean {
    return !!this.author && this.author.user.id === this.#viewerId;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get paused(): boolean {
    return this.#held || this.#stopped || this.#hidden || this.#typing || this.#confirming || this.#panel !== null;
  }
  /** Paused by the person holding it (the screen says "Paused"). */
  get held(): boolean {
    return this.#held;
  }
  /** Paused with the Pause button, until they press it again. */
  get stopped(): boolean {
    return this.#stopped;
  }
  get panel(): FleetPanel {
    return this.#panel;
  }
  get viewers(): PagedList<FleetViewerData> | null {
    return this.#viewers;
  }
  get replies(): PagedList<FleetReplyData> | null {
    return this.#replies;
  }
  /** Why the reply box is not there, in words; null when the viewer may reply (or it is their own). */
  get replyRefusal(): string | null {
    const fleet = this.fleet;
    if (!fleet || this.isOwn) return null;
    return replyRefusalText(fleet.viewerReplyRefusal ?? (fleet.viewerCanReply ? null : 'NOBODY'), this.author!.user.handle);
  }
  get canReply(): boolean {
    return !!this.fleet && !this.isOwn && this.fleet.viewerCanReply;
  }
  /** "Sent to @hana" after a reply or reaction went out (private). */
  get sent(): string | null {
    return this.#sent;
  }
  get replyError(): AppError | null {
    return this.#replyError;
  }
  get sending(): boolean {
    return this.#sending;
  }
  get deleting(): boolean {
    return this.#deleting;
  }
  get error(): AppError | null {
    return this.#error;
  }
  get replyTooLong(): boolean {
    return lengthOf(this.replyText) > FLEET_TEXT_MAX;
  }

  // --- playing -------------------------------------------------------------------------------

  /** Shows the first fleet (marks it seen, starts its timer). */
  start(): void {
    if (!this.fleet) return this.close();
    this.#show();
  }

  next(): void {
    if (this.#closed) return;
    if (this.#fleetIndex + 1 < this.fleetCount) {
      this.#fleetIndex++;
    } else if (this.#authorIndex + 1 < this.#authors.length) {
      this.#authorIndex++;
      this.#fleetIndex = 0;
    } else {
      return this.close();
    }
    this.#show();
  }

  previous(): void {
    if (this.#closed) return;
    if (this.#fleetIndex > 0) {
      this.#fleetIndex--;
    } else if (this.#authorIndex > 0) {
      this.#authorIndex--;
      this.#fleetIndex = Math.max(this.fleetCount - 1, 0);
    }
    // At the very first fleet, "back" plays it again from the start.
    this.#show();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.#onClose?.();
  }

  /** Pressed and held (pointerdown) pauses; letting go resumes. */
  hold(held: boolean): void {
    this.#held = held;
    this.#pausedChanged();
  }
  /** The Pause / Play button. */
  togglePaused(): void {
    this.#stopped = !this.#stopped;
    this.#pausedChanged();
  }
  /** The tab went to the background (visibilitychange). */
  setHidden(hidden: boolean): void {
    this.#hidden = hidden;
    this.#pausedChanged();
  }
  /** The person is typing a reply: the fleet waits for them. */
  setTyping(typing: boolean): void {
    this.#typing = typing;
    this.#pausedChanged();
  }
  /** A confirmation (delete) is open. */
  setConfirming(confirming: boolean): void {
    this.#confirming = confirming;
    this.#pausedChanged();
  }

  #show(): void {
    this.#clearTimer();
    this.#remaining = this.#duration;
    this.#run++;
    this.#sent = null;
    this.#replyError = null;
    this.#error = null;
    this.replyText = '';
    this.#panel = null;
    this.#viewers = null;
    this.#replies = null;
    this.#markSeen();
    this.#schedule();
  }

  #schedule(): void {
    this.#clearTimer();
    if (this.paused || this.#closed || !this.fleet) return;
    this.#startedAt = Date.now();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.next();
    }, this.#remaining);
  }

  #pausedChanged(): void {
    if (this.paused) {
      if (this.#timer) {
        this.#remaining = Math.max(0, this.#remaining - (Date.now() - this.#startedAt));
        this.#clearTimer();
      }
    } else if (!this.#timer) {
      this.#schedule();
    }
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #markSeen(): void {
    const fleet = this.fleet;
    if (!fleet || this.isOwn || fleet.viewerHasSeen || !this.#viewerId) return;
    fleet.viewerHasSeen = true;
    this.#api.mutate(MarkFleetSeenMutation, { id: fleet.id }).catch(() => {
      // Expired meanwhile (NOT_FOUND) or offline: the ring stays as the server has it.
    });
  }

  // --- the author's side ----------------------------------------------------------------------

  /** Opens who viewed it, or its replies (paged); the fleet waits meanwhile. */
  openPanel(panel: Exclude<FleetPanel, null>): void {
    const fleet = this.fleet;
    if (!fleet || !this.isOwn) return;
    this.#panel = panel;
    this.#pausedChanged();
    const id = fleet.id;
    if (panel === 'viewers') {
      this.#viewers = new PagedList<FleetViewerData>(async (after) => {
        const data = await this.#api.query(FleetViewersQuery, { id, first: PAGE, after });
        const node = data.node && 'viewers' in data.node ? data.node : null;
        if (!node) return { items: [], hasMore: false, cursor: null };
        if (node.viewCount !== null && node.viewCount !== undefined && this.fleet?.id === id) this.fleet.viewCount = node.viewCount;
        return { items: node.viewers.edges.map((e) => e.node), hasMore: node.viewers.pageInfo.hasNextPage, cursor: node.viewers.pageInfo.endCursor ?? null };
      });
      void this.#viewers.refresh();
    } else {
      this.#replies = new PagedList<FleetReplyData>(async (after) => {
        const data = await this.#api.query(FleetRepliesQuery, { id, first: PAGE, after });
        const node = data.node && 'replies' in data.node ? data.node : null;
        if (!node) return { items: [], hasMore: false, cursor: null };
        return { items: node.replies.edges.map((e) => e.node), hasMore: node.replies.pageInfo.hasNextPage, cursor: node.replies.pageInfo.endCursor ?? null };
      });
      void this.#replies.refresh();
    }
  }

  closePanel(): void {
    this.#panel = null;
    this.#pausedChanged();
  }

  /** Deletes the shown fleet (after the page asked); moves on to what is left. */
  async deleteFleet(): Promise<boolean> {
    const fleet = this.fleet;
    const author = this.author;
    if (!fleet || !author || !this.isOwn || this.#deleting) return false;
    this.#deleting = true;
    try {
      await this.#api.mutate(DeleteFleetMutation, { id: fleet.id });
      author.fleets = author.fleets.filter((f) => f.id !== fleet.id);
      this.#confirming = false;
      if (author.fleets.length === 0) {
        this.#authors = this.#authors.filter((a) => a !== author && a.fleets.length > 0);
        if (this.#authorIndex >= this.#authors.length) return this.close(), true;
        this.#fleetIndex = 0;
      } else if (this.#fleetIndex >= author.fleets.length) {
        this.#fleetIndex = author.fleets.length - 1;
      }
      this.#show();
      return true;
    } catch (error) {
      this.#error = toAppError(error);
      return false;
    } finally {
      this.#deleting = false;
    }
  }

  // --- everyone else's side -------------------------------------------------------------------

  /** Sends the typed reply privately to the author. */
  async sendReply(): Promise<boolean> {
    const text = oneLine(this.replyText);
    if (!text) return false;
    if (this.replyTooLong) {
      this.#replyError = toAppError({ message: `text: must be at most ${FLEET_TEXT_MAX} characters`, extensions: { code: 'BAD_USER_INPUT', field: 'text' } });
      return false;
    }
    const sent = await this.#reply({ text });
    if (sent) this.replyText = '';
    return sent;
  }

  /** Sends a quick reaction privately to the author. */
  async react(emoji: string): Promise<boolean> {
    return this.#reply({ emoji });
  }

  async #reply(input: { text?: string; emoji?: string }): Promise<boolean> {
    const fleet = this.fleet;
    const author = this.author;
    if (!fleet || !author || !this.canReply || this.#sending) return false;
    this.#sending = true;
    this.#replyError = null;
    try {
      await this.#api.mutate(ReplyToFleetMutation, { fleetId: fleet.id, input });
      if (this.fleet === fleet) this.#sent = `Sent to @${author.user.handle}`;
      return true;
    } catch (error) {
      const appError = toAppError(error);
      if (this.fleet === fleet) {
        this.#replyError = appError;
        // The author changed who may reply meanwhile: the box gives way to the reason.
        if (appError.code === 'FORBIDDEN' && appError.reason) {
          fleet.viewerCanReply = false;
          fleet.viewerReplyRefusal = appError.reason as FleetData['viewerReplyRefusal'];
        }
      }
      return false;
    } finally {
      this.#sending = false;
    }
  }

  /** Stops the timer for good (the page is leaving). */
  destroy(): void {
    this.#clearTimer();
    this.#closed = true;
  }
}
