// '@spaces/janus/testing': test tooling kept out of the main entry, since rtp.ts loads opusscript
// (WASM) on import. Plain-RTP endpoints, Opus encode/decode, a sine generator, RTP packet helpers
// and a Goertzel tone detector.
export * from './rtp.ts';
export * from './goertzel.ts';
