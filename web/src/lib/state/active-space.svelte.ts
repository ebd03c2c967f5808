/**
 * The space the person is in, held by the app rather than by its page: its room state
 * (SpaceRoom) and its audio (AudioConnection) outlive the /s/[id] page, so navigating inside the
 * app never drops the audio and the docked player can show the room from any page.
 *
 * - The room page asks for its space with `open(id, …)`: the held one when it is that space,
 *   else a new one (started here). The page shows it, and calls `close(live)` when it goes away.
 * - A closed room the viewer is still present in (live, not removed) stays held: the docked
 *   player shows it. Any other is stopped and its audio disconnected.
 * - The held room lets go by itself once the viewer is no longer in it (left, ended, removed,
 *   signed out), unless its page is open (that page shows the end screen and closes it later).
 * - Joining another space releases the one held before (the viewer leaves it: one space at a time).
 *
 * The sign-out button reads `current` / `signOutWarning` (signing out makes the person leave).
 */
import { untrack } from 'svelte';
import type { AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import { AudioConnection, audioSignaling, browserAudioEnvironment, type AudioEnvironment, type AudioSignaling } from './audio.svelte';
import { SpaceRoom, type RoomNotice } from './space-room.svelte';

export interface ActiveSpaceInfo {
  id: string;
  title: string;
  /** The viewer hosts it: leaving starts the host's grace period. */
  hosting: boolean;
}

/** Where a live space's messages go (the app's notices), and how audio is made (specs pass fakes). */
export interface LiveSpaceDeps {
  api: Api;
  onError?: (error: AppError) => void;
  onNotice?: (notice: RoomNotice) => void;
  signaling?: AudioSignaling;
  environment?: AudioEnvironment;
}

/** One space's room and audio, kept in step: the audio follows the room's plan. */
export class LiveSpace {
  readonly room: SpaceRoom;
  readonly audio: AudioConnection;
  #stopEffects: () => void;
  #disposed = false;

  constructor(id: string, deps: LiveSpaceDeps) {
    this.audio = new AudioConnection(deps.signaling ?? audioSignaling(deps.api), deps.environment ?? browserAudioEnvironment());
    this.room = new SpaceRoom(deps.api, id, {
      onError: deps.onError,
      onNotice: deps.onNotice,
      onAudioReconnect: () => this.audio.reconnect(),
    });
    // The audio connection follows the room: none, listening, or on stage; muted or not.
    this.#stopEffects = $effect.root(() => {
      $effect(() => {
        const plan = this.room.audioPlan;
        // Only the plan is followed (sync reads the audio's own state).
        untrack(() => this.audio.sync(plan));
      });
    });
    // Offline, the audio says so (and is paused); back online, it connects again at once.
    if (typeof window !== 'undefined' && typeof navigator !== 'undefined') {
      const online = () => this.audio.setOnline(true);
      const offline = () => this.audio.setOnline(false);
      this.audio.setOnline(navigator.onLine !== false);
      window.addEventListener('online', online);
      window.addEventListener('offline', offline);
      const stop = this.#stopEffects;
      this.#stopEffects = () => {
        stop();
        window.removeEventListener('online', online);
        window.removeEventListener('offline', offline);
      };
    }
  }

  get id(): string {
    return this.room.id;
  }

  /** The viewer is present in this space while it is live (what keeps it held and docked). */
  get present(): boolean {
    return !!this.room.me && this.room.live && !this.room.removed;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  start(): Promise<void> {
    return this.room.start();
  }

  /** Stops following the space and drops its audio. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#stopEffects();
    this.room.stop();
    void this.audio.disconnect();
  }
}

export class ActiveSpace {
  /** The space the viewer is in (or whose page is open); null when none. */
  #held = $state<LiveSpace | null>(null);
  /** The page showing a space right now (held or not). */
  #onPage = $state<LiveSpace | null>(null);
  #stopWatch: (() => void) | null = null;

  /** The held space (for the docked player): the one the viewer is in. */
  get held(): LiveSpace | null {
    return this.#held;
  }

  /** The space whose page is open, if any. */
  get onPage(): LiveSpace | null {
    return this.#onPage;
  }

  /** The docked player shows: the viewer is in a live space and its page is not on screen. */
  get docked(): LiveSpace | null {
    const held = this.#held;
    return held && held.present && this.#onPage !== held ? held : null;
  }

  /** The space the person is in right now, if any (what sign-out warns about). */
  get current(): ActiveSpaceInfo | null {
    for (const live of [this.#onPage, this.#held]) {
      if (live && live.present && live.room.space)
        return { id: live.id, title: live.room.space.title, hosting: live.room.isHost };
    }
    return null;
  }

  /** The room page opens space `id`: the held one when it is that space, else a new one. */
  open(id: string, deps: LiveSpaceDeps): LiveSpace {
    this.#watch();
    const held = this.#held;
    if (held && held.id === id && !held.disposed) {
      this.#onPage = held;
      return held;
    }
    const live = new LiveSpace(id, deps);
    this.#onPage = live;
    void live.start();
    return live;
  }

  /** The page of `live` went away: it stays held while the viewer is in it, else it stops. */
  close(live: LiveSpace): void {
    if (this.#onPage === live) this.#onPage = null;
    if (live.present && !live.disposed) {
      this.#hold(live);
    } else {
      if (this.#held === live) this.#held = null;
      live.dispose();
    }
  }

  /** Lets go of the held space now (signed out, or the viewer left it from the docked player). */
  release(): void {
    const held = this.#held;
    this.#held = null;
    if (held && held !== this.#onPage) held.dispose();
  }

  /** Leaves the held space (the docked player's Leave) and lets it go. */
  async leave(): Promise<boolean> {
    const held = this.#held;
    if (!held) return false;
    const ok = await held.room.leave();
    if (ok) this.release();
    return ok;
  }

  #hold(live: LiveSpace): void {
    const before = this.#held;
    if (before === live) return;
    this.#held = live;
    // One space at a time: the one held before is left (its page is not open: this one's is, or none).
    if (before && !before.disposed) {
      if (before.present) void before.room.leave().finally(() => before.dispose());
      else before.dispose();
    }
  }

  /**
   * Keeps `held` honest: the page's space becomes held as soon as the viewer is in it (so a
   * second space's join releases the first); a held space the viewer is no longer in is let go
   * unless its page is showing it.
   */
  #watch(): void {
    if (this.#stopWatch) return;
    this.#stopWatch = $effect.root(() => {
      $effect(() => {
        const page = this.#onPage;
        if (page && page.present && this.#held !== page) untrack(() => this.#hold(page));
      });
      $effect(() => {
        const held = this.#held;
        if (held && !held.present && held.room.status !== 'loading' && this.#onPage !== held) {
          untrack(() => {
            this.#held = null;
            held.dispose();
          });
        }
      });
    });
  }

  /** What the sign-out confirmation says, or null when there is nothing to confirm. */
  get signOutWarning(): string | null {
    const space = this.current;
    if (!space) return null;
    return space.hosting
      ? `You're hosting “${space.title}”. Signing out takes you out of it; if you don't come back within a few minutes, it ends for everyone.`
      : `You're in “${space.title}”. Signing out makes you leave it.`;
  }
}

/** The app's one (the layout's sign-out and docked player read it; room pages open spaces through it). */
export const activeSpace = new ActiveSpace();
