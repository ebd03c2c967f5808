/**
 * Mountpoint settings the audience benchmark uses for the project's config: the API's own (see
 * api/src/services/mixer/relays.ts and docs/scaling.md). `threads`: helper threads of a Streaming
 * RTP mountpoint that share the relay to its viewers; 0 = the mountpoint's own thread relays.
 */
export { RELAY_MOUNTPOINT_THREADS as DEFAULT_MOUNTPOINT_THREADS } from '@spaces/api/testing';
