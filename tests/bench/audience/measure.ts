/** Aggregation helpers of the audience benchmark: loss over many listeners, kernel UDP drops, delays. */
import { readFileSync } from 'node:fs';
import { lossBetween, type CounterSnapshot, type WebRtcListener } from './listener.ts';
import type { BurstSpeaker } from './speaker.ts';

export interface LossFigures {
  listeners: number;
  /** Listeners that received nothing in the window. */
  silent: number;
  received: number;
  expected: number;
  /** % of expected packets not received. */
  lossPct: number;
  /** Packets per second per listener. */
  rxPerListener: number;
  /** Biggest gap between two packets at any listener (ms). */
  maxGapMs: number;
  /** Mean size of the SRTP packets received (bytes, RTP header to auth tag; no UDP/IP). */
  packetBytes: number;
}

/** Loss between two snapshot lists of the same listeners (by position; listeners added later are left out). */
export function lossOver(before: CounterSnapshot[], after: CounterSnapshot[], wallMs: number): LossFigures {
  let received = 0;
  let expected = 0;
  let silent = 0;
  let maxGapMs = 0;
  let bytes = 0;
  const n = Math.min(before.length, after.length);
  for (let i = 0; i < n; i++) {
    const { received: r, expected: e } = lossBetween(before[i]!, after[i]!);
    received += r;
    expected += e;
    if (r === 0) silent++;
    else bytes += after[i]!.bytes - before[i]!.bytes;
    maxGapMs = Math.max(maxGapMs, after[i]!.maxGapMs);
  }
  return {
    listeners: n,
    silent,
    received,
    expected,
    lossPct: expected === 0 ? NaN : (100 * Math.max(0, expected - received)) / expected,
    rxPerListener: n === 0 ? 0 : received / n / (wallMs / 1000),
    maxGapMs,
    packetBytes: received === 0 ? NaN : bytes / received,
  };
}

/** UDP counters of this network namespace (/proc/net/snmp): receive-buffer drops happen at the clients. */
export function udpCounters(): { inDatagrams: number; rcvbufErrors: number; sndbufErrors: number; inErrors: number } {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  const get = (name: string) => values[names.indexOf(name)] ?? 0;
  return { inDatagrams: get('InDatagrams'), rcvbufErrors: get('RcvbufErrors'), sndbufErrors: get('SndbufErrors'), inErrors: get('InErrors') };
}

/**
 * Stage → listener delay of the bursts sent in [from, to): for each burst and each listener, the
 * first onset heard within 400 ms of the first tone frame leaving the speaker's socket. A burst is
 * left out when the speaker's frames around its onset left > 8 ms late (this process stalled: the
 * delay would be ours, not the path's). Returns per-listener delays and, per burst, the mean.
 */
export function burstDelays(sender: BurstSpeaker, listeners: WebRtcListener[], from: number, to: number) {
  const delays: number[] = [];
  const perBurst = new Map<number, number>();
  let bursts = 0;
  let stalled = 0;
  let missed = 0;
  sender.onsetSentAt.forEach((sent, burst) => {
    if (sent < from || sent >= to) return;
    bursts++;
    const frame = sender.onsetFrame[burst]!;
    const late = Math.max(...sender.frameLateMs.slice(Math.max(0, frame - 10), frame + 10).map((x) => x ?? Infinity));
    if (late > 8) {
      stalled++;
      return;
    }
    const heard: number[] = [];
    for (const listener of listeners) {
      const onset = listener.onsets.find((o) => o.at >= sent && o.at < sent + 400);
      if (onset) heard.push(onset.at - sent);
      else missed++;
    }
    delays.push(...heard);
    if (heard.length > 0) perBurst.set(burst, heard.reduce((s, x) => s + x, 0) / heard.length);
  });
  return { delays, perBurst, bursts, stalled, missed };
}
