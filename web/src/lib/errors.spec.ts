import { describe, expect, it } from 'vitest';
import { AppError, describeError, fromHttpError, seconds, toAppError, unwrap } from './errors';

const gql = (code: string, message: string, extensions: Record<string, unknown> = {}) => ({
  graphQLErrors: [{ message, extensions: { code, ...extensions } }],
});

describe('toAppError: every API error code in words', () => {
  it('UNAUTHENTICATED after a wrong password says so', () => {
    const wrong = gql('UNAUTHENTICATED', 'Wrong handle or password. Check both and try again.', { reason: 'WRONG_CREDENTIALS' });
    expect(describeError(wrong)).toBe('Wrong handle or password. Check both and try again.');
  });

  it('UNAUTHENTICATED asks to sign in, or says the session expired', () => {
    expect(describeError(gql('UNAUTHENTICATED', 'Sign in first.'))).toBe('You need to sign in to do that.');
    expect(describeError(gql('UNAUTHENTICATED', 'Invalid or expired token.'))).toBe(
      'Your session has expired. Please sign in again.',
    );
  });

  it("FORBIDDEN, NOT_FOUND and CONFLICT keep the server's own sentence", () => {
    expect(describeError(gql('FORBIDDEN', 'Only the host can end this space.'))).toBe('Only the host can end this space.');
    expect(describeError(gql('NOT_FOUND', 'No such space.'))).toBe('No such space.');
    expect(describeError(gql('CONFLICT', 'The handle "ada" is taken'))).toBe('The handle "ada" is taken.');
  });

  it('CONFLICT carries the operation the server says to use instead', () => {
    const full = toAppError(gql('CONFLICT', 'The mixer is full: listen through the audience.', { useInstead: 'listenAudio' }));
    expect(full.code).toBe('CONFLICT');
    expect(full.useInstead).toBe('listenAudio');
    expect(toAppError(gql('CONFLICT', 'Voice is unavailable right now.')).useInstead).toBeUndefined();
    expect(toAppError(gql('CONFLICT', 'x', { useInstead: 42 })).useInstead).toBeUndefined();
    // A passing conflict says when to try again.
    expect(toAppError(gql('CONFLICT', 'Voice is reconnecting.', { retryAfterMs: 1000 })).retryAfterMs).toBe(1000);
  });

  it('falls back to plain words when the server says nothing', () => {
    expect(describeError(gql('FORBIDDEN', ''))).toBe("You don't have permission to do that.");
    expect(describeError(gql('NOT_FOUND', ''))).toMatch(/couldn't find/);
    expect(describeError(gql('CONFLICT', ''))).toMatch(/can't be done right now/);
  });

  it('BAD_USER_INPUT names the field as a person would', () => {
    const error = toAppError(
      gql('BAD_USER_INPUT', 'handle: must be 3–15 characters: letters, digits or underscore', { field: 'handle' }),
    );
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.field).toBe('handle');
    expect(error.message).toBe('Handle must be 3–15 characters: letters, digits or underscore.');
    expect(describeError(gql('BAD_USER_INPUT', 'displayName: must be 1–50 characters', { field: 'displayName' }))).toBe(
      'Display name must be 1–50 characters.',
    );
    expect(describeError(gql('BAD_USER_INPUT', 'userId: you cannot follow yourself', { field: 'userId' }))).toBe(
      'You cannot follow yourself.',
    );
    expect(describeError(gql('BAD_USER_INPUT', 'emoji: not one of the supported reactions', { field: 'emoji' }))).toBe(
      'Reaction: not one of the supported reactions.',
    );
  });

  it('BAD_USER_INPUT from a query the schema rejects says the app is out of date', () => {
    expect(describeError(gql('BAD_USER_INPUT', 'Cannot query field "connectAudio" on type "Mutation".'))).toMatch(
      /out of date/,
    );
  });

  it('RATE_LIMITED says how long to wait', () => {
    const error = toAppError(gql('RATE_LIMITED', 'Too many requests; retry in 13 s.', { retryAfterMs: 12_400 }));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.retryAfterMs).toBe(12_400);
    expect(error.message).toBe("You're doing that too often. Try again in 13 seconds.");
    expect(describeError(gql('RATE_LIMITED', 'x'))).toBe("You're doing that too often. Wait a moment and try again.");
  });

  it('INTERNAL_SERVER_ERROR and unknown codes never show internals', () => {
    expect(describeError(gql('INTERNAL_SERVER_ERROR', 'relation "users" does not exist'))).toBe(
      'Something went wrong on our side. Please try again in a moment.',
    );
    expect(describeError(gql('SOMETHING_NEW', 'stack trace here'))).toBe('Something went wrong. Please try again.');
  });

  it('an operation the server no longer knows by hash (a tab older than a deploy) asks for a reload', () => {
    expect(toAppError({ graphQLErrors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] }).code).toBe(
      'PERSISTED_QUERY_NOT_FOUND',
    );
    expect(describeError(gql('PERSISTED_QUERY_NOT_FOUND', 'PersistedQueryNotFound'))).toBe('Spaces has been updated. Reload the page to carry on.');
  });

  it('network failures ask to check the connection', () => {
    expect(toAppError({ networkError: new TypeError('Failed to fetch') }).code).toBe('NETWORK');
    expect(toAppError(new TypeError('Failed to fetch')).code).toBe('NETWORK');
    expect(toAppError({ code: 1006, reason: '' }).code).toBe('NETWORK');
    expect(describeError({ networkError: new Error('x') })).toMatch(/Can't reach Spaces/);
  });

  it('reads errors in every shape: CombinedError, result.errors, an array, one error', () => {
    expect(toAppError({ errors: [{ message: 'No such user.', extensions: { code: 'NOT_FOUND' } }] }).code).toBe('NOT_FOUND');
    expect(toAppError([{ message: 'm', extensions: { code: 'CONFLICT' } }]).code).toBe('CONFLICT');
    expect(toAppError({ message: 'm', extensions: { code: 'FORBIDDEN' } }).code).toBe('FORBIDDEN');
    const app = new AppError('CONFLICT', 'already');
    expect(toAppError(app)).toBe(app);
  });
});

describe('avatar upload errors', () => {
  const refused = (reason: string, message: string) =>
    ({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT', field: 'avatar', reason } }] });

  it('says what to do for each reason the API gives', () => {
    const notImage = fromHttpError(422, refused('NOT_AN_IMAGE', 'avatar: is not an image'));
    expect(notImage.message).toMatch(/isn't a picture .*JPEG, PNG, WebP, GIF or AVIF/);
    expect(notImage).toMatchObject({ code: 'BAD_USER_INPUT', field: 'avatar', reason: 'NOT_AN_IMAGE' });
    expect(fromHttpError(413, refused('TOO_LARGE', 'avatar: must be at most 5 MB')).message).toMatch(/too big.*5 MB/);
    expect(fromHttpError(413, refused('TOO_MANY_PIXELS', 'avatar: has 40,000,000 pixels')).message).toMatch(/too many pixels/);
  });

  it('falls back to the field words for a reason it does not know', () => {
    expect(fromHttpError(422, refused('NEW_REASON', 'avatar: is upside down')).message).toBe('Picture is upside down.');
  });

  it('judges a body that is not JSON by the status', () => {
    expect(fromHttpError(413, '<html>Request Entity Too Large</html>').reason).toBe('TOO_LARGE');
    expect(fromHttpError(401, null).code).toBe('UNAUTHENTICATED');
    expect(fromHttpError(429, null).code).toBe('RATE_LIMITED');
    expect(fromHttpError(502, 'Bad gateway').code).toBe('INTERNAL_SERVER_ERROR');
    expect(fromHttpError(400, null).code).toBe('UNKNOWN');
  });

  it('keeps the other codes of the endpoint', () => {
    const forbidden = { errors: [{ message: 'Cross-site request refused.', extensions: { code: 'FORBIDDEN' } }] };
    expect(fromHttpError(403, forbidden).message).toBe('Cross-site request refused.');
  });
});

describe('unwrap', () => {
  it('returns data, or throws the error in words', () => {
    expect(unwrap({ data: { ok: 1 } })).toEqual({ ok: 1 });
    expect(() => unwrap({ error: gql('NOT_FOUND', 'No such space.') })).toThrow('No such space.');
    expect(() => unwrap({ data: null })).toThrow(AppError);
  });
});

describe('seconds', () => {
  it('rounds up, and switches to minutes past 90 seconds', () => {
    expect(seconds(1)).toBe('1 second');
    expect(seconds(1_500)).toBe('2 seconds');
    expect(seconds(120_000)).toBe('2 minutes');
  });
});
