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

export function decodeCursor(after: string | null | undefined, arity: number): (string | number)[] | null {
  if (after === null || after === undefined) return null;
  try {
    const parts = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parts) && parts.length === arity && parts.every((p) => ['string', 'number'].includes(typeof p)))
      return parts as (string | number)[];
  } catch {
    // fall through to the coded error
  }
  throw badInput('after', 'not a valid cursor');
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** rows: fetched with limit first+1, so one extra row tells whether a next page exists. */
export function toPage<T>(rows: T[], first: number, cursorOf: (row: T) => (string | number)[]): Page<T> {
  const page = rows.slice(0, first);
  const edges = page.map((node) => ({ cursor: encodeCursor(cursorOf(node)), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
