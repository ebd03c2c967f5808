export { Spaces } from './commands.ts';
export { SpaceReads, requireLive, type ParticipantGroup, type ParticipantRow, type PageRequest, type ParticipantWithUser, type SpaceRow, type SpaceWithHost, type Tx } from './reads.ts';
export { Presence } from './presence.ts';
export { Recaps, type SpaceRecap } from './recap.ts';
export { Dispatcher, Effects, type Effect, type SpaceEvent, type SpaceEventKind } from './effects.ts';
