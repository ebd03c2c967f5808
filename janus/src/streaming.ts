/**
 * Plugin layer of the Janus client: the Streaming plugin's requests, typed, on top of a
 * PluginHandle (handle.ts). Spaces uses RTP mountpoints fed by an AudioBridge room's
 * `rtp_forward`: the room's mix is relayed to each viewer without being encoded again.
 */
import { PluginHandle } from './handle.ts';
import type { JanusSession } from './session.ts';
import type { Jsep, PluginData } from './transport.ts';

/** An RTP mountpoint carrying one Opus audio stream. */
export interface RtpAudioMountpointOptions {
  id: number;
  name?: string;
  description?: string;
  /** Guards destroy, info and edit. */
  secret?: string;
  /** Needed to watch. */
  pin?: string;
  is_private?: boolean;
  /** Port the forwarded RTP arrives on; 0 lets Janus pick one from its rtp_port_range. */
  port?: number;
  /** Interface (address) to bind, e.g. where forwarded RTP comes from; all of them when missing. */
  iface?: string;
  /** Opus payload type of the forwarded RTP. Default 111. */
  pt?: number;
  /** Relay threads (viewers spread across them); 0 relays from the receiving thread. */
  threads?: number;
}

export interface StreamingMountpoint {
  id: number;
  description?: string;
  type?: string;
  viewers?: number;
  enabled?: boolean;
}

export type StreamingEvents = {
  /** The viewer's stream state: "preparing", "starting", "started", "stopped", "switching"... */
  status: [status: string];
  /** The plugin reported an error about this viewer outside of a request. */
  error: [code: number, reason: string];
  'plugin-event': [data: PluginData, jsep: Jsep | undefined];
};

/** A handle on the Streaming plugin: mountpoint management (with the admin key), or one viewer. */
export class StreamingHandle extends PluginHandle<StreamingEvents> {
  constructor(
    session: JanusSession,
    id: number,
    /** Sent with create and list (the plugin's admin_key). */
    readonly adminKey?: string,
  ) {
    super(session, id);
  }

  /** Creates an RTP mountpoint for one Opus audio stream; returns the port it listens on. */
  async createRtpAudio(options: RtpAudioMountpointOptions): Promise<{ id: number; port: number }> {
    const { id, port = 0, iface, pt = 111, threads, ...rest } = options;
    const { data } = await this.message({
      request: 'create',
      admin_key: this.adminKey,
      type: 'rtp',
      id,
      permanent: false,
      ...(threads !== undefined ? { threads } : {}),
      ...rest,
      media: [{ type: 'audio', mid: 'a', label: 'audio', port, pt, codec: 'opus', ...(iface ? { iface } : {}) }],
    });
    const stream = data.stream as { id: number; ports?: { port: number }[] } | undefined;
    const bound = stream?.ports?.[0]?.port ?? port;
    return { id: stream?.id ?? id, port: bound };
  }

  async destroy(id: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'destroy', id, secret: options.secret, permanent: false });
  }

  /** Every mountpoint, private ones included (needs the admin key). */
  async list(): Promise<StreamingMountpoint[]> {
    const { data } = await this.message({ request: 'list', admin_key: this.adminKey });
    return (data.list as StreamingMountpoint[] | undefined) ?? [];
  }

  async info(id: number, options: { secret?: string } = {}): Promise<StreamingMountpoint & Record<string, unknown>> {
    const { data } = await this.message({ request: 'info', id, secret: options.secret });
    return data.info as StreamingMountpoint & Record<string, unknown>;
  }

  /** Asks to watch a mountpoint: Janus answers with its SDP offer (the viewer answers with `start`). */
  async watch(id: number, options: { pin?: string } = {}): Promise<Jsep> {
    const { jsep } = await this.message({ request: 'watch', id, pin: options.pin, offer_video: false, offer_data: false });
    if (!jsep || jsep.type !== 'offer') throw new Error('Janus Streaming: watch returned no offer');
    return jsep;
  }

  /** The viewer's SDP answer: media starts flowing once ICE and DTLS are up. */
  async start(answer: Jsep): Promise<void> {
    await this.message({ request: 'start' }, answer);
  }

  /** Moves this viewer to another mountpoint without renegotiating. */
  async switchTo(id: number): Promise<void> {
    await this.message({ request: 'switch', id });
  }

  async stop(): Promise<void> {
    await this.message({ request: 'stop' });
  }

  protected pluginEvent(data: PluginData, jsep?: Jsep): void {
    const result = data.result as { status?: string } | undefined;
    if (typeof result?.status === 'string') this.emit('status', result.status);
    if (typeof data.error_code === 'number') this.emit('error', data.error_code, String(data.error ?? ''));
    this.emit('plugin-event', data, jsep);
  }
}
