/**
 * The one place that turns what went wrong into words a person understands.
 *
 * The API marks every error a client can cause with `extensions.code` (see the contract):
 * UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT (the message names the field), CONFLICT,
 * RATE_LIMITED (with `extensions.retryAfterMs`) and, for anything unexpected,
 * INTERNAL_SERVER_ERROR. A CONFLICT may name the operation to call instead (`extensions.useInstead`,
 * e.g. "listenAudio" for a listener's connectAudio when the mixer is full). Server messages for FORBIDDEN / NOT_FOUND / CONFLICT are written for
 * people already ("This space has ended."), so they are kept; the rest get our own wording.
 */

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'INTERNAL_SERVER_ERROR'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'NETWORK'
  | 'UNKNOWN';

const KNOWN_CODES = new Set<string>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'RATE_LIMITED',
  'INTERNAL_SERVER_ERROR',
  'PERSISTED_QUERY_NOT_FOUND',
]);

/** Field names the API reports, as a person would call them. */
const FIELD_LABELS: Record<string, string> = {
  handle: 'Handle',
  displayName: 'Display name',
  password: 'Password',
  title: 'Title',
  scheduledFor: 'Start time',
  speakerPolicy: 'Who can speak',
  emoji: 'Reaction',
  userId: 'That person',
  after: 'The list position',
  bio: 'Bio',
  avatar: 'Picture',
  query: 'Search',
  text: 'Text',
  caption: 'Caption',
  photo: 'Photo',
  photoUploadId: 'Photo',
  replyPolicy: 'Who can reply',
  background: 'Background',
  spaceId: 'The space',
  // Apps and tokens (the developer page) and an app's authorization request (the consent screen).
  name: 'Name',
  description: 'Description',
  redirectUris: 'Redirect URIs',
  scopes: 'Scopes',
  expiresInDays: 'Expiry',
  clientId: 'The app’s client ID',
  redirectUri: 'The redirect URI',
  responseType: 'The response type',
  codeChallenge: 'The PKCE code challenge',
  codeChallengeMethod: 'The PKCE method',
  scope: 'The requested scope',
  state: 'The state',
};

/**
 * Why the API refused an avatar (`extensions.reason` of BAD_USER_INPUT, field `avatar`), in words
 * that say what to do instead. The server's own message names the exact limit; these stay short.
 */
const AVATAR_REASONS: Record<string, string> = {
  NOT_AN_IMAGE: "That file isn't a picture Spaces can read. Choose a JPEG, PNG, WebP, GIF or AVIF image.",
  TOO_LARGE: 'That picture is too big. Choose one of at most 5 MB.',
  TOO_MANY_PIXELS: 'That picture has too many pixels (at most 25 megapixels). Choose a smaller one.',
};

/** The same for a fleet's photo (field `photo` of POST /media/fleet-photo: 8 MB, 40 megapixels). */
const PHOTO_REASONS: Record<string, string> = {
  NOT_AN_IMAGE: "That file isn't a photo Spaces can read. Choose a JPEG, PNG, WebP, GIF or AVIF image.",
  TOO_LARGE: 'That photo is too big. Choose one of at most 8 MB.',
  TOO_MANY_PIXELS: 'That photo has too many pixels (at most 40 megapixels). Choose a smaller one.',
};

/** An error already put into words, with what a screen may want to act on. */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** For BAD_USER_INPUT: the input field at fault, as the API names it. */
  readonly field: string | undefined;
  /** For RATE_LIMITED (and a passing CONFLICT, e.g. voice reconnecting): how long to wait before trying again. */
  readonly retryAfterMs: number | undefined;
  /** For CONFLICT: the operation the server says to use instead (e.g. "listenAudio"). */
  readonly useInstead: string | undefined;
  /** The API's finer reason, when it gives one (`extensions.reason`, e.g. TOO_LARGE for an avatar). */
  readonly reason: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    extra: { field?: string; retryAfterMs?: number; useInstead?: string; reason?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause });
    this.name = 'AppError';
    this.code = code;
    this.field = extra.field;
    this.retryAfterMs = extra.retryAfterMs;
    this.useInstead = extra.useInstead;
    this.reason = extra.reason;
  }
}

interface GraphQLErrorLike {
  message?: unknown;
  extensions?: Record<string, unknown> | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The GraphQL errors inside anything: urql's CombinedError, a result, an array, or one error. */
function graphQLErrorsOf(error: unknown): GraphQLErrorLike[] {
  if (Array.isArray(error)) return error.filter(isRecord) as GraphQLErrorLike[];
  if (!isRecord(error)) return [];
  if (Array.isArray(error.graphQLErrors) && error.graphQLErrors.length > 0) return error.graphQLErrors as GraphQLErrorLike[];
  if (Array.isArray(error.errors)) return error.errors as GraphQLErrorLike[];
  if (isRecord(error.extensions)) return [error as GraphQLErrorLike];
  return [];
}

function isNetworkFailure(error: unknown): boolean {
  if (!isRecord(error)) return false;
  if (error.networkError) return true;
  // graphql-ws closes with a CloseEvent-like object; fetch throws TypeError('Failed to fetch').
  if (typeof error.code === 'number' && typeof error.reason === 'string') return true;
  return error instanceof TypeError && /fetch|network/i.test(String(error.message));
}

export function seconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 90) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.ceil(s / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const capital = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** "handle: must be 3–15 characters" -> "Handle must be 3–15 characters." */
function describeInput(message: string, field: string | undefined): string {
  const match = /^([A-Za-z_][\w.]*):\s*(.+)$/s.exec(message);
  const name = field ?? match?.[1];
  const reason = match ? match[2]! : message;
  if (name) {
    if (/^you\b/i.test(reason)) return sentence(reason);
    const label = FIELD_LABELS[name] ?? name;
    return sentence(/^(must|is|are|should|can)\b/.test(reason) ? `${label} ${reason}` : `${label}: ${reason}`);
  }
  // No field: the request itself did not fit the schema (an old app talking to a newer API).
  if (/^(Cannot query field|Unknown (argument|type|fragment)|Variable "|Field ".+" argument|Syntax Error)/.test(message))
    return 'This version of the app is out of date. Reload the page to get the latest one.';
  return sentence(message) || 'Something in that request was not accepted.';
}

/** Puts one GraphQL error into words. */
function fromGraphQLError(error: GraphQLErrorLike, cause: unknown): AppError {
  const ext = error.extensions ?? {};
  const rawCode = typeof ext.code === 'string' ? ext.code : '';
  const code: ErrorCode = KNOWN_CODES.has(rawCode) ? (rawCode as ErrorCode) : 'UNKNOWN';
  const message = typeof error.message === 'string' ? error.message : '';
  switch (code) {
    case 'UNAUTHENTICATED':
      // A wrong handle or password at sign-in: the server's words say exactly that.
      if (ext.reason === 'WRONG_CREDENTIALS') return new AppError(code, sentence(message) || 'Wrong handle or password.', { cause });
      return new AppError(code, /invalid|expired/i.test(message)
        ? 'Your session has expired. Please sign in again.'
        : 'You need to sign in to do that.', { cause });
    case 'FORBIDDEN':
      // A fleet's reply refusal (OWN, NOBODY, NOT_FOLLOWED) comes as extensions.reason.
      return new AppError(code, sentence(message) || "You don't have permission to do that.", {
        reason: typeof ext.reason === 'string' ? ext.reason : undefined,
        cause,
      });
    case 'NOT_FOUND':
      return new AppError(code, sentence(message) || "We couldn't find that. It may have been removed.", { cause });
    case 'CONFLICT': {
      const useInstead = typeof ext.useInstead === 'string' && ext.useInstead ? ext.useInstead : undefined;
      const retryAfterMs = typeof ext.retryAfterMs === 'number' && ext.retryAfterMs > 0 ? ext.retryAfterMs : undefined;
      return new AppError(code, sentence(message) || "That can't be done right now.", { useInstead, retryAfterMs, cause });
    }
    case 'BAD_USER_INPUT': {
      const field = typeof ext.field === 'string' ? ext.field : undefined;
      const reason = typeof ext.reason === 'string' ? ext.reason : undefined;
      const avatarWords =
        field === 'avatar' && reason ? AVATAR_REASONS[reason] : field === 'photo' && reason ? PHOTO_REASONS[reason] : undefined;
      return new AppError(code, avatarWords ?? describeInput(message, field), { field, reason, cause });
    }
    case 'RATE_LIMITED': {
      const retryAfterMs = typeof ext.retryAfterMs === 'number' && ext.retryAfterMs > 0 ? ext.retryAfterMs : undefined;
      const wait = retryAfterMs ? `Try again in ${seconds(retryAfterMs)}.` : 'Wait a moment and try again.';
      return new AppError(code, `You're doing that too often. ${wait}`, { retryAfterMs, cause });
    }
    case 'INTERNAL_SERVER_ERROR':
      return new AppError(code, 'Something went wrong on our side. Please try again in a moment.', { cause });
    case 'PERSISTED_QUERY_NOT_FOUND':
      // The app sends its operations by hash: a tab opened before a deploy that changed one.
      return new AppError(code, 'Spaces has been updated. Reload the page to carry on.', { cause });
    default:
      return new AppError('UNKNOWN', 'Something went wrong. Please try again.', { cause });
  }
}

/** Anything thrown or returned as an error, as an AppError with words for a person. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const graphQLErrors = graphQLErrorsOf(error);
  const first = graphQLErrors[0];
  if (first) return fromGraphQLError(first, error);
  if (isNetworkFailure(error))
    return new AppError('NETWORK', "Can't reach Spaces right now. Check your connection and try again.", { cause: error });
  return new AppError('UNKNOWN', 'Something went wrong. Please try again.', { cause: error });
}

/**
 * An error answer of a plain HTTP endpoint of the API (POST /media/avatar): its JSON body carries
 * the same `{ errors: [{ message, extensions: { code, … } }] }` as GraphQL. A body that is not
 * JSON (a proxy's page) is judged by the status alone.
 */
export function fromHttpError(status: number, body: unknown, field: 'avatar' | 'photo' = 'avatar'): AppError {
  if (graphQLErrorsOf(body).length > 0) return toAppError(body);
  if (status === 413) return fromGraphQLError({ message: '', extensions: { code: 'BAD_USER_INPUT', field, reason: 'TOO_LARGE' } }, body);
  if (status === 401) return fromGraphQLError({ message: '', extensions: { code: 'UNAUTHENTICATED' } }, body);
  if (status === 429) return fromGraphQLError({ message: '', extensions: { code: 'RATE_LIMITED' } }, body);
  if (status >= 500) return fromGraphQLError({ message: '', extensions: { code: 'INTERNAL_SERVER_ERROR' } }, body);
  return new AppError('UNKNOWN', 'Something went wrong. Please try again.', { cause: body });
}

/** The words for an error, for a message on screen. */
export function describeError(error: unknown): string {
  return toAppError(error).message;
}

/** An operation's result: its data, or an AppError (urql puts failures in `error`, not a throw). */
export function unwrap<T>(result: { data?: T | null; error?: unknown }): T {
  if (result.error) throw toAppError(result.error);
  if (result.data === undefined || result.data === null) throw new AppError('UNKNOWN', 'The server sent an empty answer. Please try again.');
  return result.data;
}
