/**
 * Mountpoint settings the audience benchmark uses for the project's config (see docs/scaling.md
 * for why). `threads`: helper threads of a Streaming RTP mountpoint that share the relay to its
 * viewers; 0 = the mountpoint's own thread relays to every viewer.
 */
export const DEFAULT_MOUNTPOINT_THREADS = 0;
