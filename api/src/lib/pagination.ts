import { badInput } from '../errors.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0) throw badInput('first', 'must be a non-negative integer');
  if (first > MAX_PAGE_SIZE) throw badInput('first', `must be at most ${MAX_PAGE_SIZE}`);
  return first;
}

/** Keyset cursors: the sort key of the last row, opaque to clients. */
export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** What each position of a cursor holds; every field is checked before it reaches SQL. */
export type CursorField = 'uuid' | 'timestamp' | 'count' | 'role';
type FieldValue<F extends CursorField> = F extends 'count' ? number : string;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const ROLES = new Set(['HOST', 'CO_HOST', 'SPEAKER', 'LISTENER']);

const valid: Record<CursorField, (v: unknown) => boolean> = {
  uuid: (v) => typeof v === 'string' && UUID.test(v),
  timestamp: (v) => typeof v === 'string' && ISO_TIME.test(v) && !Number.isNaN(Date.parse(v)),
  count: (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 31,
  role: (v) => typeof v === 'string' && ROLES.has(v),
};

/**
 * Reads a cursor this server made. Cursors are opaque to clients, but a client can still send any
 * string: one whose fields do not have exactly the expected kinds is BAD_USER_INPUT, never SQL.
 */
export function decodeCursor<const F extends readonly CursorField[]>(
  after: string | null | undefined,
  fields: F,
): { [K in keyof F]: FieldValue<F[K]> } | null {
  if (after === null || after === undefined) return null;
  if (after.length <= 400) {
    let parts: unknown;
    try {
      parts = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
    } catch {
      parts = null; // not ours: the coded error below
    }
    if (Array.isArray(parts) && parts.length === fields.length && fields.every((f, i) => valid[f](parts[i])))
      return parts as { [K in keyof F]: FieldValue<F[K]> };
  }
  throw badInput('after', 'not a valid cursor');
}

/** A connection's value (the relay plugin's connection shape), forward pages only. */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export const emptyPage = <T = never>(): Page<T> => ({
  edges: [],
  pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
});

/** An edge whose cursor is made when read: most clients ask only for pageInfo.endCursor. */
class Edge<T> {
  constructor(
    readonly node: T,
    private readonly cursorOf: (row: T) => (string | number)[],
  ) {}
  get cursor(): string {
    return encodeCursor(this.cursorOf(this.node));
  }
}

/** rows: fetched with limit first+1, so one extra row tells whether a next page exists. */
export function toPage<T>(rows: T[], first: number, cursorOf: (row: T) => (string | number)[]): Page<T> {
  const page = rows.slice(0, first);
  // A class rather than an object literal with a getter, which V8 makes far more slowly.
  const edges = page.map((node) => new Edge(node, cursorOf));
  const last = page.at(-1);
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > first,
      hasPreviousPage: false,
      get startCursor() {
        return page.length === 0 ? null : encodeCursor(cursorOf(page[0]!));
      },
      endCursor: last === undefined ? null : encodeCursor(cursorOf(last)),
    },
  };
}
