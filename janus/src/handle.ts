/**
 * Handle layer of the Janus client: a handle attached to a plugin within a session. Core requests
 * every handle has (message, trickle, hangup, detach) and core events about its PeerConnection;
 * plugin classes (audiobridge.ts) extend it with their own requests and events.
 */
import { TypedEmitter, type EventMap } from './emitter.ts';
import type { JanusSession } from './session.ts';
import type { JanusMessage, Jsep, PluginData } from './transport.ts';

/** Events the Janus core sends about any handle's PeerConnection. */
export type CoreHandleEvents = {
  /** ICE and DTLS are up: media can flow. */
  webrtcup: [];
  /** Janus started or stopped receiving a kind of media. */
  media: [info: { type: 'audio' | 'video'; receiving: boolean; mid?: string }];
  /** The PeerConnection closed. */
  hangup: [reason: string];
  slowlink: [info: { uplink: boolean; media?: string; lost?: number; nacks?: number }];
  /** A trickled candidate from Janus (full trickle only); null when gathering completed. */
  trickle: [candidate: { sdpMid?: string; sdpMLineIndex?: number; candidate: string } | null];
  /** The handle is gone: detached, or its session ended. */
  detached: [];
};

/** Base of typed plugin handles: core requests and core events. */
export abstract class PluginHandle<Events extends EventMap> extends TypedEmitter<Events & CoreHandleEvents> {
  #attached = true;

  constructor(
    readonly session: JanusSession,
    readonly id: number,
  ) {
    super();
    session.registerHandle(this as unknown as PluginHandle<EventMap>);
  }

  get isAttached(): boolean {
    return this.#attached && this.session.isOpen;
  }

  /** Sends a plugin request (see JanusSession.sendMessage). */
  message(body: Record<string, unknown>, jsep?: Jsep): Promise<{ data: PluginData; jsep?: Jsep }> {
    return this.session.sendMessage(this.id, body, jsep);
  }

  /** Sends ICE candidates of the client's PeerConnection; `null` says gathering completed. */
  async trickle(candidate: { sdpMid?: string | null; sdpMLineIndex?: number | null; candidate: string } | null): Promise<void> {
    await this.session.request({ janus: 'trickle', candidate: candidate ?? { completed: true } }, this.id);
  }

  /** Closes the PeerConnection (the plugin handle stays). */
  async hangup(): Promise<void> {
    await this.session.request({ janus: 'hangup' }, this.id);
  }

  /** Detaches from the plugin; the handle cannot be used afterwards. */
  async detach(): Promise<void> {
    if (!this.#attached) return;
    try {
      await this.session.request({ janus: 'detach' }, this.id);
    } finally {
      this.#markDetached();
    }
  }

  /** @internal Called by the session for each event whose sender is this handle. */
  receive(message: JanusMessage): void {
    const emit = this.emit.bind(this) as (event: string, ...args: unknown[]) => void;
    switch (message.janus) {
      case 'webrtcup':
        emit('webrtcup');
        return;
      case 'media':
        emit('media', { type: message.type, receiving: message.receiving, mid: message.mid });
        return;
      case 'hangup':
        emit('hangup', String(message.reason ?? ''));
        return;
      case 'slowlink':
        emit('slowlink', { uplink: message.uplink, media: message.media, lost: message.lost, nacks: message.nacks });
        return;
      case 'trickle': {
        const candidate = message.candidate as { completed?: boolean; candidate: string } | undefined;
        emit('trickle', !candidate || candidate.completed ? null : candidate);
        return;
      }
      case 'detached':
        this.#markDetached();
        return;
      case 'event':
        if (message.plugindata) this.pluginEvent(message.plugindata.data, message.jsep);
    }
  }

  /** @internal The session ended: this handle is gone too. */
  sessionClosed(): void {
    if (!this.#attached) return;
    this.#attached = false;
    (this.emit.bind(this) as (event: string) => void)('detached');
  }

  /** Plugin events that answer no request of ours (other participants, talking, kicks). */
  protected abstract pluginEvent(data: PluginData, jsep?: Jsep): void;

  #markDetached() {
    if (!this.#attached) return;
    this.#attached = false;
    this.session.unregisterHandle(this.id);
    (this.emit.bind(this) as (event: string) => void)('detached');
  }
}
