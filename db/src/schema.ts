import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

// Declared before `users`, which uses it: who may reply to a fleet (same shape as speaker policies).
export const replyPolicy = pgEnum('reply_policy', ['EVERYONE', 'FOLLOWING', 'NOBODY']);

const createdAt = () => timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // Stored as typed; uniqueness and look-ups are case-insensitive (lower(handle)).
    handle: text('handle').notNull(),
    displayName: text('display_name').notNull(),
    passwordHash: text('password_hash').notNull(),
    // Kept in the same transaction as the follows row, with atomic increments, so they stay
    // exact under concurrent follows without a count(*) per read.
    followerCount: integer('follower_count').notNull().default(0),
    followingCount: integer('following_count').notNull().default(0),
    // Plain text, one line, cleaned by the API's text policy (domain/text.ts); '' when unset.
    bio: text('bio').notNull().default(''),
    // Where the avatar's renditions live in media storage (`avatars/<random id>`; the API adds
    // `-400.webp` / `-96.webp`); null without an avatar. A new upload gets a new key, so the
    // URLs can be cached forever.
    avatarKey: text('avatar_key'),
    // A listener-only account made for a signed-out visitor (startGuestSession): no password,
    // handle `guest_<random>`, never listed in search or suggestions; removed once unused.
    isGuest: boolean('is_guest').notNull().default(false),
    // Who may reply to a new fleet unless its author says otherwise (setDefaultReplyPolicy).
    fleetReplyPolicy: replyPolicy('fleet_reply_policy').notNull().default('EVERYONE'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('users_handle_lower_key').on(sql`lower(${t.handle})`),
    check('users_handle_format', sql`${t.handle} ~ '^[A-Za-z0-9_]{3,15}$'`),
    check('users_counts_nonnegative', sql`${t.followerCount} >= 0 and ${t.followingCount} >= 0`),
    check('users_bio_length', sql`char_length(${t.bio}) <= 160`),
    // People search (services/search.ts): pg_trgm GIN indexes serve ILIKE '%…%' and the
    // word-similarity operator (<%) on the same lower() expressions the queries use.
    index('users_handle_trgm_idx').using('gin', sql`lower(${t.handle}) gin_trgm_ops`),
    index('users_display_name_trgm_idx').using('gin', sql`lower(${t.displayName}) gin_trgm_ops`),
    // Suggested people: the most followed first.
    index('users_follower_count_idx').on(t.followerCount.desc(), t.id),
  ],
);

/**
 * What a row of `sessions` is: the PWA's own sign-in (`session`, every scope), a personal access
 * token (`personal`, `spaces_pat_…`) or an OAuth access token (`oauth`, `spaces_at_…`).
 */
export const tokenKind = pgEnum('token_kind', ['session', 'personal', 'oauth']);

/**
 * Every bearer credential that reaches /graphql and /media: sessions, personal access tokens and
 * OAuth access tokens share this table, so one look-up authenticates them all and revoking any
 * of them (revoked_at, then the `session` topic) closes its sockets the same way.
 */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // sha256 of the bearer token: a leaked table does not leak usable tokens.
    tokenHash: text('token_hash').notNull(),
    kind: tokenKind('kind').notNull().default('session'),
    // OAuth scope strings (domain/rules.ts API_SCOPES); null = every scope (kind `session` only).
    // Lists are jsonb here: postgres.js runs without fetch_types (db/src/index.ts), so text[]
    // would come back as an unparsed '{…}' string.
    scopes: jsonb('scopes').$type<string[]>(),
    // A personal access token's name, as its owner wrote it.
    name: text('name'),
    // An OAuth access token: the authorization it was issued under (revoking that revokes it) and
    // the code it descends from (a code used twice revokes everything issued from it).
    grantId: uuid('grant_id').references(() => appGrants.id, { onDelete: 'cascade' }),
    familyId: uuid('family_id'),
    // Updated at most once a minute per token (not a write per request).
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, precision: 3 }),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('sessions_token_hash_key').on(t.tokenHash),
    index('sessions_user_idx').on(t.userId),
    index('sessions_grant_idx').on(t.grantId),
    check('sessions_scopes_only_tokens', sql`(${t.kind} = 'session') = (${t.scopes} is null)`),
    check('sessions_grant_only_oauth', sql`(${t.kind} = 'oauth') = (${t.grantId} is not null)`),
    check('sessions_name_length', sql`char_length(${t.name}) <= 100`),
  ],
);

/**
 * A third-party app registered by a user (OAuth client). Public apps (mobile, SPA, CLI) have no
 * secret and rely on PKCE alone; confidential ones also send their secret (stored as sha256).
 * Redirect URIs are compared as exact strings.
 */
export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clientId: text('client_id').notNull(),
    clientSecretHash: text('client_secret_hash'),
    name: text('name').notNull(),
    description: text('description'),
    redirectUris: jsonb('redirect_uris').$type<string[]>().notNull(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('apps_client_id_key').on(t.clientId),
    index('apps_owner_idx').on(t.ownerId, t.createdAt),
    check('apps_name_length', sql`char_length(${t.name}) between 1 and 50`),
  ],
);

/**
 * A user's authorization of an app (AppAuthorization): the scopes they allowed, one live row per
 * user and app. Revoking it (or deleting the app) ends every code, access and refresh token
 * issued under it.
 */
export const appGrants = pgTable(
  'app_grants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    scopes: jsonb('scopes').$type<string[]>().notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, precision: 3 }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('app_grants_live_key').on(t.userId, t.appId).where(sql`${t.revokedAt} is null`),
    index('app_grants_app_idx').on(t.appId),
  ],
);

/**
 * OAuth authorization codes: sha256 only, 10 minutes, single use (used_at), bound to the PKCE
 * challenge (S256) and the exact redirect URI of the request.
 */
export const oauthCodes = pgTable(
  'oauth_codes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    codeHash: text('code_hash').notNull(),
    grantId: uuid('grant_id')
      .notNull()
      .references(() => appGrants.id, { onDelete: 'cascade' }),
    redirectUri: text('redirect_uri').notNull(),
    scopes: jsonb('scopes').$type<string[]>().notNull(),
    codeChallenge: text('code_challenge').notNull(),
    codeChallengeMethod: text('code_challenge_method').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [uniqueIndex('oauth_codes_code_hash_key').on(t.codeHash), index('oauth_codes_grant_idx').on(t.grantId)],
);

/**
 * OAuth refresh tokens (sha256 only), rotated on every use: the used one gets rotated_at and a
 * successor in the same family (the code's id). Presenting a rotated one again revokes the grant.
 */
export const oauthRefreshTokens = pgTable(
  'oauth_refresh_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tokenHash: text('token_hash').notNull(),
    grantId: uuid('grant_id')
      .notNull()
      .references(() => appGrants.id, { onDelete: 'cascade' }),
    familyId: uuid('family_id').notNull(),
    scopes: jsonb('scopes').$type<string[]>().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true, precision: 3 }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('oauth_refresh_tokens_token_hash_key').on(t.tokenHash),
    index('oauth_refresh_tokens_grant_idx').on(t.grantId),
  ],
);

export const follows = pgTable(
  'follows',
  {
    followerId: uuid('follower_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    followeeId: uuid('followee_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.followerId, t.followeeId] }),
    check('follows_no_self_follow', sql`${t.followerId} <> ${t.followeeId}`),
    index('follows_followee_idx').on(t.followeeId, t.createdAt),
    index('follows_follower_idx').on(t.followerId, t.createdAt),
  ],
);

export const spaceState = pgEnum('space_state', ['SCHEDULED', 'LIVE', 'ENDED']);
export const speakerPolicy = pgEnum('speaker_policy', ['EVERYONE', 'FOLLOWING', 'INVITED']);
export const participantRole = pgEnum('participant_role', ['HOST', 'CO_HOST', 'SPEAKER', 'LISTENER']);
// STAGE: a seat in the space's AudioBridge room; AUDIENCE: a viewer of a Streaming relay of its mix.
export const audioTier = pgEnum('audio_tier', ['STAGE', 'AUDIENCE']);

export const spaces = pgTable(
  'spaces',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    hostId: uuid('host_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    state: spaceState('state').notNull(),
    speakerPolicy: speakerPolicy('speaker_policy').notNull(),
    scheduledFor: timestamp('scheduled_for', { withTimezone: true, precision: 3 }),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }),
    endedAt: timestamp('ended_at', { withTimezone: true, precision: 3 }),
    // Set while the host is away; the space ends when the grace period after it runs out.
    hostAwaySince: timestamp('host_away_since', { withTimezone: true, precision: 3 }),
    // Where the space's audio lives: which configured Janus instance, and the room number on it.
    mixerInstance: text('mixer_instance'),
    mixerRoom: bigint('mixer_room', { mode: 'number' }),
    // The most listeners present at once while live, for the host's recap. Written only by the
    // API's recaps (services/spaces/recap.ts): sampled, never per join (joins share the row lock).
    peakListeners: integer('peak_listeners').notNull().default(0),
    // A scheduled space its host called off (state ENDED, never started).
    cancelled: boolean('cancelled').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    // A user hosts at most one live space at a time.
    uniqueIndex('spaces_one_live_per_host').on(t.hostId).where(sql`${t.state} = 'LIVE'`),
    index('spaces_state_idx').on(t.state, t.startedAt),
    // Space search by title (services/search.ts), pg_trgm like the users' indexes.
    index('spaces_title_trgm_idx').using('gin', sql`lower(${t.title}) gin_trgm_ops`),
    check('spaces_title_length', sql`char_length(${t.title}) between 1 and 100`),
  ],
);

export const participants = pgTable(
  'participants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    spaceId: uuid('space_id')
      .notNull()
      .references(() => spaces.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: participantRole('role').notNull(),
    muted: boolean('muted').notNull().default(true),
    handRaised: boolean('hand_raised').notNull().default(false),
    // A host or co-host saw the raised hand (markHandsSeen); cleared with the hand.
    handSeen: boolean('hand_seen').notNull().default(false),
    speaking: boolean('speaking').notNull().default(false),
    audioConnected: boolean('audio_connected').notNull().default(false),
    // This participant's id in the space's AudioBridge room while connected: any API instance can
    // then mute or kick it, whichever instance holds its handle.
    mixerParticipantId: bigint('mixer_participant_id', { mode: 'number' }),
    // Which tier that connection is on, and for AUDIENCE the Janus instance (edge) serving it; the
    // id above then names the audience connection (Janus lists no viewers by id).
    audioTier: audioTier('audio_tier'),
    audioInstance: text('audio_instance'),
    // Set once the participant was heard at the mixer (speaking, or connected on stage with an open
    // mic): who spoke, for the host's recap. Written only with the audio columns (audio-state.ts).
    spoke: boolean('spoke').notNull().default(false),
    // When this participant was last known to be there: joining, or an API instance holding their
    // spaceEvents subscription or audio. Non-hosts not seen for PRESENCE_GRACE_MS leave. Written
    // only by the API's presence (services/spaces/presence.ts), in batches.
    seenAt: timestamp('seen_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    joinedAt: timestamp('joined_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    // One row per user and space, reused on rejoin; present while leftAt is null.
    leftAt: timestamp('left_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('participants_space_user_key').on(t.spaceId, t.userId),
    // Present participants in list order (role, join time, id): keyset pages of a 5,000-listener
    // audience read one page of index entries, not the whole audience.
    index('participants_present_idx').on(t.spaceId, t.role, t.joinedAt, t.id).where(sql`${t.leftAt} is null`),
    // Raised hands only (a few among thousands): the moderators' HANDS list.
    index('participants_hands_idx').on(t.spaceId, t.joinedAt, t.id).where(sql`${t.leftAt} is null and ${t.handRaised}`),
    index('participants_user_idx').on(t.userId).where(sql`${t.leftAt} is null`),
    // Present participants by when they were last seen: the presence janitor's stale ones.
    index('participants_seen_idx').on(t.seenAt).where(sql`${t.leftAt} is null`),
    // Listeners per edge, for placing a new one where there is most headroom.
    index('participants_audience_edge_idx').on(t.audioInstance).where(sql`${t.audioTier} = 'AUDIENCE'`),
  ],
);

/**
 * A space's mix relayed to an audience edge: a Streaming mountpoint on that Janus instance, fed by
 * an `rtp_forward` of the space's AudioBridge room. The reconciler makes these exist for every edge
 * that has listeners of the space, and removes the rest.
 */
export const audienceRelays = pgTable(
  'audience_relays',
  {
    spaceId: uuid('space_id')
      .notNull()
      .references(() => spaces.id, { onDelete: 'cascade' }),
    instance: text('instance').notNull(),
    mountpoint: bigint('mountpoint', { mode: 'number' }).notNull(),
    port: integer('port').notNull(),
    // The forwarder's stream id in the room on the mixing instance; null until it is forwarding.
    forwarder: bigint('forwarder', { mode: 'number' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.spaceId, t.instance] })],
);

export const speakerInvites = pgTable(
  'speaker_invites',
  {
    spaceId: uuid('space_id')
      .notNull()
      .references(() => spaces.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    invitedBy: uuid('invited_by')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.spaceId, t.userId] })],
);

export const spaceBans = pgTable(
  'space_bans',
  {
    spaceId: uuid('space_id')
      .notNull()
      .references(() => spaces.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    bannedBy: uuid('banned_by')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.spaceId, t.userId] })],
);

/** Who asked to be told when a scheduled space starts. */
export const spaceReminders = pgTable(
  'space_reminders',
  {
    spaceId: uuid('space_id')
      .notNull()
      .references(() => spaces.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.spaceId, t.userId] }), index('space_reminders_user_idx').on(t.userId)],
);

export const notificationKind = pgEnum('notification_kind', [
  'SPEAKER_INVITED',
  'HAND_RAISED',
  'SPACE_STARTED',
  'SPACE_REMINDER',
  'SPACE_CANCELLED',
  'FLEET_REPLY',
]);

/** A person's in-app notifications (newest first), read or not. */
export const notifications = pgTable(
  'notifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: notificationKind('kind').notNull(),
    actorId: uuid('actor_id').references(() => users.id, { onDelete: 'cascade' }),
    spaceId: uuid('space_id').references(() => spaces.id, { onDelete: 'cascade' }),
    // FLEET_REPLY: the fleet replied to; the notification goes with the fleet (24 hours at most).
    fleetId: uuid('fleet_id').references(() => fleets.id, { onDelete: 'cascade' }),
    readAt: timestamp('read_at', { withTimezone: true, precision: 3 }),
    createdAt: createdAt(),
  },
  (t) => [
    // The list, newest first, keyset-paged.
    index('notifications_user_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    // The unread badge.
    index('notifications_unread_idx').on(t.userId).where(sql`${t.readAt} is null`),
  ],
);

export const fleetKind = pgEnum('fleet_kind', ['TEXT', 'PHOTO']);
/** The fixed palette a text fleet's background comes from (the clients map names to colours). */
export const fleetBackground = pgEnum('fleet_background', ['BLUE', 'PURPLE', 'PINK', 'RED', 'ORANGE', 'YELLOW', 'GREEN', 'BLACK']);

/**
 * A fleet: a text or a photo that lives 24 hours. Every read filters `expires_at > now` (the
 * API's clock), so expiry never waits for the sweeper, which only deletes rows and files later.
 */
export const fleets = pgTable(
  'fleets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    authorId: uuid('author_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: fleetKind('kind').notNull(),
    // TEXT: the text (null for a bare "I'm live" share of a space); PHOTO: null.
    text: text('text'),
    background: fleetBackground('background').notNull().default('BLUE'),
    // PHOTO: the WebP in media storage, `fleets/<expiry epoch seconds>-<random>-1080.webp`.
    photoKey: text('photo_key'),
    caption: text('caption'),
    replyPolicy: replyPolicy('reply_policy').notNull(),
    // "I'm live": the space shared (its host or someone on its stage posted it while LIVE).
    spaceId: uuid('space_id').references(() => spaces.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    // The bar: the active fleets of the authors a viewer follows.
    index('fleets_author_idx').on(t.authorId, t.expiresAt),
    // The sweeper's expired rows.
    index('fleets_expires_idx').on(t.expiresAt),
    check('fleets_text_length', sql`char_length(${t.text}) <= 280 and char_length(${t.caption}) <= 280`),
    check(
      'fleets_kind_content',
      sql`(${t.kind} = 'PHOTO' and ${t.photoKey} is not null and ${t.text} is null) or (${t.kind} = 'TEXT' and ${t.photoKey} is null and ${t.caption} is null and (${t.text} is not null or ${t.spaceId} is not null))`,
    ),
  ],
);

/** Who saw which fleet (markFleetSeen), for the ring on the bar and the author's viewers list. */
export const fleetViews = pgTable(
  'fleet_views',
  {
    fleetId: uuid('fleet_id')
      .notNull()
      .references(() => fleets.id, { onDelete: 'cascade' }),
    viewerId: uuid('viewer_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    viewedAt: timestamp('viewed_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.fleetId, t.viewerId] }),
    // The author's viewers list, newest first, keyset-paged.
    index('fleet_views_list_idx').on(t.fleetId, t.viewedAt.desc(), t.viewerId.desc()),
    index('fleet_views_viewer_idx').on(t.viewerId),
  ],
);

/** A private reply (text) or reaction (emoji) to a fleet, for its author only. */
export const fleetReplies = pgTable(
  'fleet_replies',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    fleetId: uuid('fleet_id')
      .notNull()
      .references(() => fleets.id, { onDelete: 'cascade' }),
    authorId: uuid('author_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    text: text('text'),
    emoji: text('emoji'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    index('fleet_replies_list_idx').on(t.fleetId, t.createdAt.desc(), t.id.desc()),
    check('fleet_replies_one_of', sql`(${t.text} is null) <> (${t.emoji} is null)`),
    check('fleet_replies_text_length', sql`char_length(${t.text}) <= 280`),
  ],
);

/**
 * A processed fleet photo waiting for its postFleet (POST /media/fleet-photo): at most an hour,
 * then the sweeper deletes it and its file. postFleet consumes the row (one fleet per upload).
 */
export const fleetUploads = pgTable(
  'fleet_uploads',
  {
    id: text('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // `fleet-uploads/<id>.webp`: never served (GET /media refuses the folder).
    mediaKey: text('media_key').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index('fleet_uploads_expires_idx').on(t.expiresAt)],
);
