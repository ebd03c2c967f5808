import { createHash, randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { and, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { appGrants, participants, sessions, users, type Database } from '@spaces/db';
import { cleanLine } from '../domain/text.ts';
import {
  GUEST_DISPLAY_NAME,
  GUEST_HANDLE_PREFIX,
  GUEST_SESSION_TTL_MS,
  isApiScope,
  TOKEN_LAST_USED_GRANULARITY_MS,
  type ApiScope,
} from '../domain/rules.ts';
import { appError, badInput, conflict, isUniqueViolation } from '../errors.ts';

/**
 * Every column of a user but the password hash: what the API reads and hands around. Only
 * signIn reads the hash (and keeps it to itself).
 */
export const userColumns = {
  id: users.id,
  handle: users.handle,
  displayName: users.displayName,
  followerCount: users.followerCount,
  followingCount: users.followingCount,
  bio: users.bio,
  avatarKey: users.avatarKey,
  isGuest: users.isGuest,
  fleetReplyPolicy: users.fleetReplyPolicy,
  createdAt: users.createdAt,
};

export type UserRow = Omit<typeof users.$inferSelect, 'passwordHash'>;

/** What a bearer token or cookie stands for (context.ts Viewer). */
export interface AuthenticatedToken {
  user: UserRow;
  /** The `sessions` row, whatever its kind. */
  sessionId: string;
  expiresAt: Date;
  kind: 'session' | 'personal' | 'oauth';
  /** null: the PWA's own session, every scope. */
  scopes: ApiScope[] | null;
  appId: string | null;
}

const HANDLE = /^[A-Za-z0-9_]{3,15}$/;
// algorithm 2 = Argon2id (a const enum upstream, which isolated modules cannot import).
const ARGON2 = { algorithm: 2 as const, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
// A real hash of a random password: unknown handles cost the same verify as wrong passwords.
const DUMMY_HASH = argon2Hash(randomBytes(16).toString('hex'), ARGON2);

export interface SignUpInput {
  handle: string;
  displayName: string;
  password: string;
}

export function validateSignUp(input: SignUpInput): SignUpInput {
  const handle = input.handle.trim();
  if (!HANDLE.test(handle))
    throw badInput('handle', 'must be 3–15 characters: letters, digits or underscore');
  if (handle.toLowerCase().startsWith(GUEST_HANDLE_PREFIX)) throw badInput('handle', `"${GUEST_HANDLE_PREFIX}" handles are kept for guests`);
  const name = cleanLine(input.displayName, { max: 50 });
  if (!name.ok) throw badInput('displayName', name.reason);
  const displayName = name.text;
  if (input.password.length < 8) throw badInput('password', 'must be at least 8 characters');
  if (input.password.length > 256) throw badInput('password', 'must be at most 256 characters');
  return { handle, displayName, password: input.password };
}

/**
 * Stored as a guest's password hash: not a PHC string, so no password verifies against it (and
 * signIn never tries: guests are refused before verifying).
 */
const NO_PASSWORD = '!guest';
/** 9 characters of [a-z2-7] (base32): the handle stays within 15 characters. */
const guestHandle = () =>
  GUEST_HANDLE_PREFIX + Array.from(randomBytes(9), (b) => 'abcdefghijklmnopqrstuvwxyz234567'[b & 31]).join('');

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * The credential behind a token hash, with its user (never the password hash): prepared once, so
 * drizzle builds its SQL once and PostgreSQL plans it once per connection.
 */
function prepareAuthenticate(db: Database) {
  return db
    .select({
      user: userColumns,
      sessionId: sessions.id,
      expiresAt: sessions.expiresAt,
      kind: sessions.kind,
      scopes: sessions.scopes,
      grantId: sessions.grantId,
      appId: appGrants.appId,
      lastUsedAt: sessions.lastUsedAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(appGrants, eq(appGrants.id, sessions.grantId))
    .where(
      and(
        eq(sessions.tokenHash, sql.placeholder('tokenHash')),
        isNull(sessions.revokedAt),
        sql`${sessions.expiresAt} > ${sql.placeholder('now')}::timestamptz`,
      ),
    )
    .limit(1)
    .prepare('authenticate');
}

export class Accounts {
  #authenticateQuery?: ReturnType<typeof prepareAuthenticate>;

  constructor(
    private readonly db: Database,
    private readonly sessionTtlMs: number,
    /** Told of each revoked session, after the change is stored (the app closes its sockets). */
    private readonly onRevoked: (sessionId: string) => void = () => {},
  ) {}

  async signUp(raw: SignUpInput) {
    const input = validateSignUp(raw);
    const passwordHash = await argon2Hash(input.password, ARGON2);
    let user: UserRow;
    try {
      [user] = (await this.db
        .insert(users)
        .values({ handle: input.handle, displayName: input.displayName, passwordHash })
        .returning(userColumns)) as [UserRow];
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`The handle "${input.handle}" is taken.`);
      throw error;
    }
    return { user, token: await this.createSession(user.id) };
  }

  /** Same error, and about the same time, for an unknown handle and a wrong password. */
  async signIn(handle: string, password: string) {
    const wellFormed = HANDLE.test(handle.trim());
    const [found] = !wellFormed ? [] : await this.db
      .select({ ...userColumns, passwordHash: users.passwordHash })
      .from(users)
      .where(eq(sql`lower(${users.handle})`, handle.trim().toLowerCase()))
      .limit(1);
    // A guest has no password: verified against the dummy as for an unknown handle.
    const known = found && !found.isGuest ? found : undefined;
    const ok = await argon2Verify(known?.passwordHash ?? (await DUMMY_HASH), password.slice(0, 256));
    // UNAUTHENTICATED as the contract says, with a reason clients can tell apart from "sign in
    // first" / an expired session without reading the message.
    if (!known || !ok)
      throw appError('UNAUTHENTICATED', 'Wrong handle or password. Check both and try again.', { reason: 'WRONG_CREDENTIALS' });
    // The hash stays here: the user handed on is a UserRow like every other.
    const user: UserRow = { ...known };
    delete (user as Partial<typeof known>).passwordHash;
    return { user, token: await this.createSession(known.id) };
  }

  /**
   * A listener-only guest account (random `guest_…` handle, shown as "Guest", no password) and
   * its session of GUEST_SESSION_TTL_MS, made together so the janitor never sees one without
   * the other.
   */
  async startGuest(): Promise<{ user: UserRow; token: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction(async (tx) => {
          const [user] = (await tx
            .insert(users)
            .values({ handle: guestHandle(), displayName: GUEST_DISPLAY_NAME, passwordHash: NO_PASSWORD, isGuest: true })
            .returning(userColumns)) as [UserRow];
          return { user, token: await this.createSession(user.id, GUEST_SESSION_TTL_MS, tx) };
        });
      } catch (error) {
        // 45 bits of handle: a clash is rare; try another.
        if (!isUniqueViolation(error) || attempt >= 3) throw error;
      }
    }
  }

  #lastGuestSweep = 0;

  /**
   * deleteStaleGuests at most once per `everyMs` (the app's janitor ticks far more often; the
   * query scans the users table, having no index on is_guest). Resolves to how many went.
   */
  async sweepStaleGuests(everyMs = 60_000, now = Date.now()): Promise<number> {
    if (now - this.#lastGuestSweep < everyMs) return 0;
    this.#lastGuestSweep = now;
    return this.deleteStaleGuests(new Date(now));
  }

  /**
   * The guest janitor: deletes guest accounts that are in no space and have no usable session
   * left or are older than a guest session (their participations and sessions go with them).
   */
  async deleteStaleGuests(now = new Date()): Promise<number> {
    const dayAgo = new Date(now.getTime() - GUEST_SESSION_TTL_MS);
    const deleted = await this.db
      .delete(users)
      .where(
        and(
          eq(users.isGuest, true),
          sql`not exists (select 1 from ${participants} where ${participants.userId} = ${users.id} and ${participants.leftAt} is null)`,
          sql`(${users.createdAt} < ${dayAgo.toISOString()}::timestamptz or not exists (select 1 from ${sessions} where ${sessions.userId} = ${users.id} and ${sessions.revokedAt} is null and ${sessions.expiresAt} > ${now.toISOString()}::timestamptz))`,
        ),
      )
      .returning({ id: users.id });
    return deleted.length;
  }

  async createSession(userId: string, ttlMs = this.sessionTtlMs, db: Pick<Database, 'insert'> = this.db): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await db.insert(sessions).values({
      userId,
      tokenHash: hashToken(token),
      expiresAt: new Date(Date.now() + ttlMs),
    });
    return token;
  }

  /**
   * The user behind a bearer token or cookie — a session, a personal access token or an OAuth
   * access token — or null for unknown, expired and revoked ones. A token's lastUsedAt (and its
   * app authorization's) is written at most once a minute, not on every request.
   */
  async authenticate(token: string): Promise<AuthenticatedToken | null> {
    if (!token || token.length > 200) return null;
    // Every request runs this: a prepared statement, built once (see prepareAuthenticate).
    this.#authenticateQuery ??= prepareAuthenticate(this.db);
    const [row] = await this.#authenticateQuery.execute({ tokenHash: hashToken(token), now: new Date().toISOString() });
    if (!row) return null;
    if (row.kind !== 'session' && (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() >= TOKEN_LAST_USED_GRANULARITY_MS))
      void this.touch(row.sessionId, row.grantId).catch((error) => console.error('[tokens] lastUsedAt', error));
    return {
      user: row.user,
      sessionId: row.sessionId,
      expiresAt: row.expiresAt,
      kind: row.kind,
      scopes: row.kind === 'session' ? null : ((row.scopes ?? []).filter(isApiScope) as ApiScope[]),
      appId: row.appId ?? null,
    };
  }

  /** lastUsedAt of a token and its grant; conditional, so instances racing write once a minute. */
  private async touch(sessionId: string, grantId: string | null): Promise<void> {
    const stale = (column: typeof sessions.lastUsedAt | typeof appGrants.lastUsedAt) =>
      or(isNull(column), lt(column, new Date(Date.now() - TOKEN_LAST_USED_GRANULARITY_MS)));
    await this.db.update(sessions).set({ lastUsedAt: new Date() }).where(and(eq(sessions.id, sessionId), stale(sessions.lastUsedAt)));
    if (grantId)
      await this.db.update(appGrants).set({ lastUsedAt: new Date() }).where(and(eq(appGrants.id, grantId), stale(appGrants.lastUsedAt)));
  }

  /** Revokes tokens of any kind by row id: they stop working and their sockets close. */
  async revokeSessions(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .update(sessions)
      .set({ revokedAt: new Date() })
      .where(and(inArray(sessions.id, [...ids]), isNull(sessions.revokedAt)));
    for (const id of ids) this.onRevoked(id);
  }

  /** Signs the session out everywhere: its token stops working and its sockets close. */
  async revokeSession(sessionId: string): Promise<void> {
    await this.db.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, sessionId));
    this.onRevoked(sessionId);
  }
}
