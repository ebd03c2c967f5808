/**
 * A WebRTC listener for the audience benchmark (bench/audience.ts): one werift PeerConnection that
 * receives audio from Janus, either as a Streaming viewer (Janus offers, we answer) or as an
 * AudioBridge participant (we offer recvonly, Janus answers).
 *
 * Two kinds:
 *   - `count` (load clients): ICE, DTLS and the SRTP key exchange run in werift as usual, but once
 *     they are set up, every RTP/RTCP datagram is taken off the ICE socket before werift sees it
 *     and only its clear RTP header is read (sequence number): no SRTP decryption, no decoding, so
 *     hundreds of listeners fit beside Janus on a 2-core machine. STUN and DTLS still reach werift
 *     (consent checks, DTLS alerts).
 *   - `decode` (sampled listeners): werift decrypts, opusscript decodes each frame, and a Goertzel
 *     filter notes when a tone onset arrives (performance.now() of this process, taken before
 *     decoding), for the stage → listener delay.
 *
 * Only inside scripts/netns.sh's namespace (no STUN server is ever asked; host candidates only).
 */
import { OPUS_SAMPLE_RATE, OpusDecoder, ToneDetector } from '@spaces/janus/testing';
import type { RTCPeerConnection, RtpPacket } from 'werift';
import { opusPeerConnection } from '../../src/support/webrtc.ts';

export const TONE_HZ = 1000;
const REFERENCE_HZ = 1950;

/** Packets counted from clear RTP headers, with loss from the (extended) sequence numbers. */
export class SequenceCounter {
  received = 0;
  /** Bytes of the RTP packets as they arrived (SRTP: header + encrypted payload + auth tag). */
  bytes = 0;
  rtcp = 0;
  /** Highest extended sequence number seen; undefined before the first packet. */
  highest: number | undefined;
  first: number | undefined;
  firstAt: number | undefined;
  /** Biggest gap between two packets, ms (since reset of the gap). */
  maxGapMs = 0;
  #lastAt: number | undefined;

  note(sequence: number, at: number, bytes: number) {
    this.received++;
    this.bytes += bytes;
    if (this.highest === undefined) {
      this.highest = sequence;
      this.first = sequence;
      this.firstAt = at;
    } else {
      // Extend the 16-bit sequence number around the highest one seen.
      const cycle = this.highest & ~0xffff;
      let extended = cycle | sequence;
      if (extended - this.highest > 0x8000) extended -= 0x10000;
      else if (this.highest - extended > 0x8000) extended += 0x10000;
      if (extended > this.highest) this.highest = extended;
    }
    if (this.#lastAt !== undefined) this.maxGapMs = Math.max(this.maxGapMs, at - this.#lastAt);
    this.#lastAt = at;
  }

  snapshot(): CounterSnapshot {
    return { received: this.received, bytes: this.bytes, highest: this.highest ?? -1, started: this.highest !== undefined, maxGapMs: this.maxGapMs };
  }

  resetGap() {
    this.maxGapMs = 0;
  }
}

export interface CounterSnapshot {
  received: number;
  bytes: number;
  highest: number;
  started: boolean;
  maxGapMs: number;
}

/** Received vs expected between two snapshots of the same counter (listeners that had started by `a`). */
export function lossBetween(a: CounterSnapshot, b: CounterSnapshot): { received: number; expected: number } {
  if (!a.started || !b.started) return { received: 0, expected: 0 };
  return { received: b.received - a.received, expected: b.highest - a.highest };
}

export interface Onset {
  at: number;
}

export interface ListenerOptions {
  /** IPv4 address ICE binds to (the namespace's 10.99.0.2 or 10.99.0.1). */
  address: string;
  mode: 'count' | 'decode';
  name?: string;
}

/** Which RTP payloads count as media: the negotiated Opus payload type (Janus may renumber). */
function isRtcp(second: number) {
  return second >= 192 && second <= 223;
}

export class WebRtcListener {
  readonly pc: RTCPeerConnection;
  readonly counter = new SequenceCounter();
  readonly name: string;
  readonly mode: 'count' | 'decode';
  connectedAt: number | undefined;
  readonly createdAt = performance.now();
  /** Decode mode: arrival of each frame with the tone, and of each onset (tone after ≥ 5 quiet frames). */
  readonly onsets: Onset[] = [];
  toneFrames = 0;
  frames = 0;
  #quiet = 0;
  #decoder: OpusDecoder | undefined;
  #detector: ToneDetector | undefined;
  #closed = false;

  constructor(options: ListenerOptions) {
    this.name = options.name ?? 'listener';
    this.mode = options.mode;
    this.pc = opusPeerConnection(options.address, { audioLevel: false });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.connectedAt ??= performance.now();
    });
    if (this.mode === 'decode') {
      this.#decoder = new OpusDecoder();
      // Half a whole tone frame's amplitude: the onset frame counts, a frame with only a tail does not.
      this.#detector = new ToneDetector({ sampleRate: OPUS_SAMPLE_RATE, frequency: TONE_HZ, referenceFrequency: REFERENCE_HZ, minAmplitude: 1500 });
      this.pc.onTransceiverAdded.subscribe((transceiver) => {
        transceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => this.#decode(rtp)));
      });
    }
  }

  /** Streaming: applies Janus's offer and returns our complete answer (ICE gathered). */
  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const answer = await this.pc.createAnswer();
    this.#noStun();
    await this.pc.setLocalDescription(answer);
    await this.#gathered();
    this.#tap();
    return this.pc.localDescription!.sdp;
  }

  /** AudioBridge: a complete recvonly offer (ICE gathered). */
  async offer(): Promise<string> {
    this.pc.addTransceiver('audio', { direction: 'recvonly' }); // decode mode: subscribed in onTransceiverAdded
    const offer = await this.pc.createOffer();
    this.#noStun();
    await this.pc.setLocalDescription(offer);
    await this.#gathered();
    this.#tap();
    return this.pc.localDescription!.sdp;
  }

  async accept(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }

  async waitConnected(timeoutMs: number): Promise<void> {
    if (this.pc.connectionState === 'connected') return;
    await this.pc.connectionStateChange.watch((state) => {
      if (state === 'failed' || state === 'closed') throw new Error(`${this.name}: connection ${state}`);
      return state === 'connected';
    }, timeoutMs);
  }

  /** werift asks stun.l.google.com unless its ICE connections' STUN server is cleared before gathering. */
  #noStun() {
    for (const transport of this.pc.iceTransports) {
      const connection = transport.connection as unknown as { stunServer?: unknown };
      if (!('stunServer' in connection)) throw new Error('werift changed: ICE connection has no stunServer field');
      connection.stunServer = undefined;
    }
  }

  async #gathered() {
    if (this.pc.iceGatheringState === 'complete') return;
    await this.pc.iceGatheringStateChange.watch((state) => state === 'complete', 5000);
  }

  /**
   * Count mode: wraps each ICE socket's datagram callback. RTP/RTCP (first byte 0b10xxxxxx) is
   * counted from its clear header and dropped; everything else (STUN, DTLS) goes on to werift.
   */
  #tap() {
    if (this.mode !== 'count') return;
    for (const transport of this.pc.iceTransports) {
      const protocols = (transport.connection as unknown as { protocols?: { transport?: { onData?: (data: Buffer, addr: unknown) => void } }[] })
        .protocols;
      if (!protocols || protocols.length === 0) throw new Error('werift changed: ICE connection has no protocols after gathering');
      for (const protocol of protocols) {
        const udp = protocol.transport;
        const pass = udp?.onData;
        if (!udp || !pass) throw new Error('werift changed: ICE protocol has no transport.onData');
        udp.onData = (data: Buffer, addr: unknown) => {
          const first = data[0]!;
          if (first >= 128 && first < 192 && data.length >= 12) {
            if (isRtcp(data[1]!)) this.counter.rtcp++;
            else this.counter.note(data.readUInt16BE(2), performance.now(), data.length);
            return;
          }
          pass(data, addr);
        };
      }
    }
  }

  #decode(rtp: RtpPacket) {
    if (this.#closed) return;
    const at = performance.now();
    this.counter.note(rtp.header.sequenceNumber, at, rtp.serialize().length);
    if (rtp.payload.length === 0) return;
    let pcm: Int16Array;
    try {
      pcm = this.#decoder!.decode(rtp.payload);
    } catch {
      return;
    }
    this.frames++;
    if (this.#detector!.process(pcm).detected) {
      this.toneFrames++;
      if (this.#quiet >= 5) this.onsets.push({ at });
      this.#quiet = 0;
    } else this.#quiet++;
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.pc.close();
    } catch {
      // already closing
    } finally {
      this.#decoder?.delete();
    }
  }
}
