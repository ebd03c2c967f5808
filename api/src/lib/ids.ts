import { badInput } from '../errors.ts';

/** Global ids are base64url("Type:uuid"): opaque to clients, typed for `node(id:)`. */
export type NodeType = 'User' | 'Space' | 'Participant' | 'Notification' | 'Fleet' | 'FleetReply' | 'PersonalAccessToken' | 'App' | 'AppAuthorization';
const NODE_TYPES: readonly string[] = ['User', 'Space', 'Participant', 'Notification', 'Fleet', 'FleetReply', 'PersonalAccessToken', 'App', 'AppAuthorization'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function toGlobalId(type: NodeType, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64url');
}

export function parseGlobalId(globalId: string): { type: NodeType; id: string } | null {
  if (typeof globalId !== 'string' || globalId.length > 100) return null;
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const [type, id, extra] = decoded.split(':');
  if (extra !== undefined || !id || !UUID.test(id)) return null;
  if (!type || !NODE_TYPES.includes(type)) return null;
  return { type: type as NodeType, id };
}

/** What the relay plugin's decodeGlobalID (builder.ts) answers for a string that is not one of our ids. */
export const INVALID_GLOBAL_ID = { typename: '', id: '' } as const;

/** Decodes an id argument that must name a node of one type; a clear BAD_USER_INPUT otherwise. */
export function expectId(field: string, globalId: string, type: NodeType): string {
  const parsed = parseGlobalId(globalId);
  if (!parsed) throw badInput(field, 'not a valid id');
  if (parsed.type !== type) throw badInput(field, `expected a ${type} id, got a ${parsed.type} id`);
  return parsed.id;
}
