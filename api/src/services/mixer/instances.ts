import { createHmac } from 'node:crypto';
import { JanusSession, messageForeignHandle, type AudioBridgeHandle, type JanusConnectionError, type Jsep, type StreamingHandle } from '@spaces/janus';
import type { MixerInstanceConfig } from '../../config.ts';

/** One configured Janus instance the API controls (see MixerInstanceConfig in config.ts). */
export type MixerInstance = MixerInstanceConfig;

export interface InstanceHooks {
  /** Connected (at start or after a loss): make its rooms match the database. */
  up(instance: JanusInstance, afterLoss: boolean): Promise<void>;
  /** Lost: everyone's audio on it is gone. */
  down(instance: JanusInstance): Promise<void>;
}

/**
 * One Janus instance: the API's session and its control handle (room management and moderation),
 * kept connected. A Janus that is down at start or goes away is retried in the background; the
 * rest of the API keeps serving meanwhile.
 */
export class JanusInstance {
  #session: JanusSession | null = null;
  #control: AudioBridgeHandle | null = null;
  #relays: StreamingHandle | null = null;
  #retry: NodeJS.Timeout | null = null;
  #connecting: Promise<boolean> | null = null;
  #stopped = false;
  #downSince: number | null = null;

  constructor(
    readonly config: MixerInstance,
    private readonly hooks: InstanceHooks,
    private readonly retryMs: number,
  ) {}

  get name(): string {
    return this.config.name;
  }

  get isUp(): boolean {
    return !!this.#control?.isAttached;
  }

  /** The session participants' handles are attached to; null while down. */
  get session(): JanusSession | null {
    return this.isUp ? this.#session : null;
  }

  /** The handle for room requests; null while down. */
  get control(): AudioBridgeHandle | null {
    return this.isUp ? this.#control : null;
  }

  /** Mixes stages: spaces' AudioBridge rooms may be placed here. */
  get mixes(): boolean {
    return (this.config.role ?? 'both') !== 'edge';
  }

  /** Serves audiences: listeners may be placed here (it needs the Streaming plugin). */
  get servesAudience(): boolean {
    return (this.config.role ?? 'both') !== 'mix';
  }

  get capacity(): number {
    return this.config.capacity ?? 2000;
  }

  /** Where a mixing instance sends RTP for this instance's mountpoints. */
  get rtpHost(): string {
    return this.config.rtpHost ?? new URL(this.config.url).hostname;
  }

  /** The Streaming handle for mountpoint requests; null while down, or without the Streaming plugin. */
  get relays(): StreamingHandle | null {
    return this.isUp ? this.#relays : null;
  }

  mountpointSecret(mountpoint: number): string {
    return this.#derive(`mountpoint:${mountpoint}`);
  }

  mountpointPin(mountpoint: number): string {
    return this.#derive(`mountpoint-pin:${mountpoint}`);
  }

  /** A MAC over `text` with this instance's key: offers name handles, and nobody else's can be forged. */
  sign(text: string): string {
    return this.#derive(`offer:${text}`).slice(0, 22);
  }

  /** A viewer's answer for a handle another API instance holds (see messageForeignHandle). */
  startForeignViewer(sessionId: number, handleId: number, answer: Jsep): Promise<void> {
    return messageForeignHandle(this.config, sessionId, handleId, { request: 'start' }, answer);
  }

  /** Room secrets and pins are derived, not stored: any API instance (or a restarted one) knows them. */
  roomSecret(room: number): string {
    return this.#derive(`room:${room}`);
  }

  roomPin(room: number): string {
    return this.#derive(`pin:${room}`);
  }

  #derive(label: string) {
    return createHmac('sha256', this.config.adminKey).update(label).digest('hex').slice(0, 32);
  }

  /** One attempt to connect; on failure retries in the background. Resolves whether it is up. */
  connect(): Promise<boolean> {
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = null));
    return this.#connecting;
  }

  async #connect(): Promise<boolean> {
    if (this.#stopped) return false;
    if (this.isUp) return true;
    const afterLoss = this.#downSince !== null;
    let session: JanusSession | null = null;
    try {
      session = await JanusSession.create({ url: this.config.url, apiSecret: this.config.apiSecret, requestTimeoutMs: 5_000 });
      const control = await session.attachAudioBridge({ adminKey: this.config.adminKey, opaqueId: 'spaces-control' });
      const relays = this.servesAudience ? await session.attachStreaming({ adminKey: this.config.adminKey, opaqueId: 'spaces-relays' }) : null;
      if (this.#stopped) {
        await session.destroy();
        return false;
      }
      this.#session = session;
      this.#control = control;
      this.#relays = relays;
      const connected = session;
      session.once('disconnected', (error) => this.#lost(connected, error));
    } catch (error) {
      await session?.destroy();
      if (this.#downSince === null) {
        this.#downSince = Date.now();
        console.error(`[mixer] Janus "${this.name}" is unreachable (${(error as Error).message}); retrying every ${this.retryMs} ms`);
      }
      this.#scheduleRetry();
      return false;
    }
    if (afterLoss) console.error(`[mixer] Janus "${this.name}" is back after ${Date.now() - this.#downSince!} ms`);
    this.#downSince = null;
    await this.hooks.up(this, afterLoss).catch((error) => console.error(`[mixer] restoring rooms on "${this.name}" failed`, error));
    return true;
  }

  #lost(session: JanusSession, error: JanusConnectionError) {
    if (this.#stopped || this.#session !== session) return;
    this.#session = null;
    this.#control = null;
    this.#relays = null;
    this.#downSince = Date.now();
    console.error(`[mixer] lost Janus "${this.name}": ${error.message}; reconnecting`);
    this.hooks.down(this).catch((e) => console.error(`[mixer] recording the loss of "${this.name}" failed`, e));
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    if (this.#retry || this.#stopped) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.connect();
    }, this.retryMs);
    this.#retry.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    const session = this.#session;
    this.#session = null;
    this.#control = null;
    this.#relays = null;
    // Destroying the session makes Janus drop its handles (and so their participants).
    await session?.destroy();
  }
}
