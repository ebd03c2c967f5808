import { builder } from '../builder.ts';
import { renewLoaders, type Context } from '../context.ts';
import { FLEET_TEXT_MAX, REACTIONS, replyRefusal } from '../domain/rules.ts';
import { forbidden, unauthenticated } from '../errors.ts';
import { expectId } from '../lib/ids.ts';
import { pageSize } from '../lib/pagination.ts';
import { transformStream } from '../lib/streams.ts';
import { VIEWER_DEPENDENT } from '../lib/shared-execution.ts';
import {
  FLEET_PHOTO_BOX,
  FLEET_PHOTO_MAX_BYTES,
  FLEET_PHOTO_MAX_PIXELS,
  type FleetAuthorEntry,
  type FleetReplyRow,
  type FleetRow,
} from '../services/fleets.ts';
import { Space } from './space.ts';
import { User, UserConnection } from './user.ts';

const isAuthor = (fleet: FleetRow, ctx: Context) => ctx.viewer?.id === fleet.authorId;

/** Why the viewer may not reply (domain/rules.ts), with "the author follows the viewer" batched per request. */
async function refusalOf(fleet: FleetRow, ctx: Context) {
  const viewer = ctx.viewer;
  const authorFollows = !!viewer && !isAuthor(fleet, ctx) && (await ctx.loaders.followsViewer.load(fleet.authorId));
  return replyRefusal({ signedIn: !!viewer, isGuest: !!viewer?.isGuest, isAuthor: isAuthor(fleet, ctx), policy: fleet.replyPolicy, authorFollows });
}

export const FleetKind = builder.enumType('FleetKind', {
  description: 'What a fleet shows.',
  values: {
    TEXT: { description: 'A text on a background colour (or, with `space` and no text, an "I\'m live" share).' },
    PHOTO: { description: 'A photo, with an optional caption.' },
  } as const,
});

export const FleetBackground = builder.enumType('FleetBackground', {
  description: "The fixed palette of a text fleet's background; clients map each name to their colour.",
  values: ['BLUE', 'PURPLE', 'PINK', 'RED', 'ORANGE', 'YELLOW', 'GREEN', 'BLACK'] as const,
});

export const ReplyPolicy = builder.enumType('ReplyPolicy', {
  description: 'Who may reply to (or react to) a fleet: chosen per fleet, or as the author\'s default (setDefaultReplyPolicy).',
  values: {
    EVERYONE: { description: 'Anyone signed in (not guests).' },
    FOLLOWING: { description: 'Only the people the author follows.' },
    NOBODY: { description: 'Replies are off.' },
  } as const,
});

export const ReplyRefusal = builder.enumType('ReplyRefusal', {
  description: 'Why the viewer may not reply to a fleet; clients hide the reply box and say why.',
  values: {
    OWN: { description: "It is the viewer's own fleet." },
    SIGNED_OUT: { description: 'The viewer is signed out.' },
    GUEST: { description: 'Guests only listen.' },
    NOBODY: { description: 'The author turned replies off.' },
    NOT_FOLLOWED: { description: 'Only people the author follows may reply, and the author does not follow the viewer.' },
  } as const,
});

/**
 * Fleets are loadable (dataloader plugin): a field of type Fleet may return a fleet's id, and
 * node(id:) loads through the same batch. Its loaders are per context: renewLoaders (context.ts)
 * clears them for each subscription delivery, as it renews ctx.loaders.
 */
export const Fleet = builder.loadableNodeRef('Fleet', {
  id: { resolve: (row: FleetRow) => row.id },
  load: (ids: string[], ctx: Context) => ctx.services.fleets.byIds(ids),
});
export const FleetReply = builder.nodeRef<FleetReplyRow>('FleetReply', {
  id: { resolve: (row) => row.id },
  loadOne: (id, ctx) => ctx.services.fleets.replyByIdFor(ctx.viewer?.id ?? null, id),
});
export const FleetReplyConnection = builder.connectionObject({ type: FleetReply, name: 'FleetReplyConnection', description: 'A page of FleetReply objects.' });
const FleetAuthor = builder.objectRef<FleetAuthorEntry>('FleetAuthor');

Fleet.implement({
  description:
    'A text or a photo that lives 24 hours (a fleet). Once expired (or deleted by its author) it is never returned again: node(id) is null, it leaves every list and subscription, and its photo URL answers 404.',
  fields: (t) => ({
    author: t.field({ type: User, resolve: async (f, _a, ctx) => (await ctx.loaders.user.load(f.authorId))! }),
    kind: t.field({ type: FleetKind, resolve: (f) => f.kind }),
    text: t.string({
      nullable: true,
      description: `TEXT: the text, one line of at most ${FLEET_TEXT_MAX} characters (null for a bare "I'm live" share). PHOTO: null.`,
      resolve: (f) => f.text,
    }),
    background: t.field({ type: FleetBackground, description: 'The background colour of a text fleet.', resolve: (f) => f.background }),
    photoUrl: t.string({
      nullable: true,
      description:
        'PHOTO: the photo, WebP, fitted into 1080×1920, with no metadata; a path on the API\'s origin (`/media/fleets/….webp`) or a bucket URL: resolve it against the API\'s URL. It answers 404 once the fleet expired. Null for a text fleet.',
      resolve: (f, _a, ctx) => ctx.services.fleets.photoUrl(f),
    }),
    caption: t.string({ nullable: true, description: 'PHOTO: an optional caption.', resolve: (f) => f.caption }),
    replyPolicy: t.field({ type: ReplyPolicy, resolve: (f) => f.replyPolicy }),
    space: t.field({
      type: Space,
      nullable: true,
      description: '"I\'m live": the space shared into this fleet (live when it was posted); open it from the viewer.',
      resolve: (f, _a, ctx) => (f.spaceId ? ctx.loaders.space.load(f.spaceId) : null),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (f) => f.createdAt }),
    expiresAt: t.field({ type: 'DateTime', description: 'createdAt + 24 hours.', resolve: (f) => f.expiresAt }),
    viewerHasSeen: t.loadable({
      type: 'Boolean',
      extensions: VIEWER_DEPENDENT,
      description: 'Whether the viewer marked it seen (markFleetSeen); true for the author, false signed out.',
      // Keyed by the fleet (cached by its id): one query per request for those not the viewer's own.
      resolve: (f) => f,
      loaderOptions: { cacheKeyFn: (f: FleetRow) => f.id },
      load: async (keys: FleetRow[], ctx: Context) => {
        const viewerId = ctx.viewer?.id;
        if (!viewerId) return keys.map(() => false);
        const others = keys.filter((f) => f.authorId !== viewerId).map((f) => f.id);
        const seen = others.length > 0 ? await ctx.services.fleets.seenAmong(viewerId, others) : new Set<string>();
        return keys.map((f) => f.authorId === viewerId || seen.has(f.id));
      },
    }),
    viewerCanReply: t.boolean({
      extensions: VIEWER_DEPENDENT,
      description: 'Whether replyToFleet would accept a reply from the viewer (see viewerReplyRefusal).',
      resolve: async (f, _a, ctx) => (await refusalOf(f, ctx)) === null,
    }),
    viewerReplyRefusal: t.field({
      type: ReplyRefusal,
      nullable: true,
      extensions: VIEWER_DEPENDENT,
      description: 'Why the viewer may not reply, or null when they may.',
      resolve: (f, _a, ctx) => refusalOf(f, ctx),
    }),
    viewCount: t.loadable({
      type: 'Int',
      nullable: true,
      extensions: VIEWER_DEPENDENT,
      description: 'How many people saw it: for its author only (null for everyone else).',
      load: (ids: string[], ctx: Context) => ctx.services.fleets.viewCounts(ids),
      resolve: (f, _a, ctx) => (isAuthor(f, ctx) ? f.id : null),
    }),
    viewers: t.field({
      type: UserConnection,
      extensions: VIEWER_DEPENDENT,
      description: 'Who saw it, most recent first: for its author only (FORBIDDEN otherwise). `first` defaults to 20, at most 100.',
      args: { first: t.arg.int(), after: t.arg.string() },
      resolve: (f, args, ctx) => {
        if (!isAuthor(f, ctx)) throw forbidden('Only its author sees who viewed a fleet.');
        return ctx.services.fleets.viewers(f.id, pageSize(args.first), args.after);
      },
    }),
    replies: t.field({
      type: FleetReplyConnection,
      extensions: VIEWER_DEPENDENT,
      description: 'The private replies and reactions, newest first: for its author only (FORBIDDEN otherwise). `first` defaults to 20, at most 100.',
      args: { first: t.arg.int(), after: t.arg.string() },
      resolve: (f, args, ctx) => {
        if (!isAuthor(f, ctx)) throw forbidden('Only its author reads the replies to a fleet.');
        return ctx.services.fleets.replies(f.id, pageSize(args.first), args.after);
      },
    }),
  }),
});

FleetReply.implement({
  description: 'A private reply (text) or reaction (emoji) to a fleet: only the fleet\'s author and the reply\'s author can see it.',
  fields: (t) => ({
    fleet: t.field({
      type: Fleet,
      nullable: true,
      description: 'The fleet replied to; null once it expired.',
      resolve: (r) => r.fleetId,
    }),
    author: t.field({ type: User, resolve: async (r, _a, ctx) => (await ctx.loaders.user.load(r.authorId))! }),
    text: t.string({ nullable: true, description: 'A text reply (null for a reaction).', resolve: (r) => r.text }),
    emoji: t.string({ nullable: true, description: 'A reaction (null for a text reply).', resolve: (r) => r.emoji }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
  }),
});

FleetAuthor.implement({
  description: 'One person on the fleets bar, with their active fleets.',
  fields: (t) => ({
    user: t.field({ type: User, resolve: async (e, _a, ctx) => (await ctx.loaders.user.load(e.authorId))! }),
    fleets: t.field({ type: [Fleet], description: 'Their active fleets, oldest first (the order to show them in).', resolve: (e) => e.fleets }),
    hasUnseen: t.boolean({
      extensions: VIEWER_DEPENDENT,
      description: 'Whether the viewer has not seen some of them (the ring); false for the viewer\'s own.',
      resolve: (e) => e.hasUnseen,
    }),
  }),
});

builder.objectFields(User, (t) => ({
  fleets: t.loadableList({
    type: Fleet,
    description: 'Their active fleets (the last 24 hours), oldest first.',
    load: (authorIds: string[], ctx: Context) => ctx.services.fleets.activeByAuthors(authorIds),
    resolve: (user) => user.id,
  }),
  defaultReplyPolicy: t.field({
    type: ReplyPolicy,
    nullable: true,
    extensions: VIEWER_DEPENDENT,
    description: "Who may reply to the user's new fleets unless they choose otherwise: the viewer's own only (null for others).",
    resolve: (user, _a, ctx) => (ctx.viewer?.id === user.id ? ctx.viewer.fleetReplyPolicy : null),
  }),
}));

const UPLOAD_DOC =
  `Photos are uploaded first over HTTP: \`POST /media/fleet-photo\` with the image itself as the body (\`Content-Type: image/jpeg\`, \`image/png\`, \`image/webp\`, \`image/gif\` or \`image/avif\`; at most ${FLEET_PHOTO_MAX_BYTES / 1024 / 1024} MB and ${FLEET_PHOTO_MAX_PIXELS / 1_000_000} megapixels) and the same credentials as GraphQL (bearer token, or the session cookie from the app's own origin). ` +
  `It answers \`{"data":{"uploadId":"…","expiresAt":"…"}}\`: an opaque id, signed, valid for one hour and for the uploader only; pass it as photoUploadId (once). Errors are \`{"errors":[…]}\` with the contract's codes: BAD_USER_INPUT (\`extensions.reason\` NOT_AN_IMAGE, TOO_LARGE or TOO_MANY_PIXELS), UNAUTHENTICATED, FORBIDDEN (cross-site cookie request, guests), RATE_LIMITED. ` +
  `The server fits the photo into ${FLEET_PHOTO_BOX.width}×${FLEET_PHOTO_BOX.height}, re-encodes it as WebP and drops all metadata (EXIF, GPS, ICC). Uploads not posted within the hour are deleted.`;

const PostFleetInput = builder.inputType('PostFleetInput', {
  description: `A new fleet: a text, or a photo (photoUploadId) with an optional caption; exactly one. ${UPLOAD_DOC}`,
  fields: (t) => ({
    text: t.string({ description: `One line of at most ${FLEET_TEXT_MAX} characters (the text policy of names and titles).` }),
    background: t.field({ type: FleetBackground, description: 'A text fleet\'s background; BLUE when left out.' }),
    photoUploadId: t.string({ description: 'The uploadId answered by POST /media/fleet-photo.' }),
    caption: t.string({ description: `With a photo: one line of at most ${FLEET_TEXT_MAX} characters.` }),
    replyPolicy: t.field({ type: ReplyPolicy, description: "Who may reply; the author's defaultReplyPolicy when left out." }),
    spaceId: t.id({
      description: '"I\'m live": share a LIVE space the viewer hosts or is on stage in (CONFLICT when it is not live, FORBIDDEN when not theirs); the text is then optional.',
    }),
  }),
});

const ReplyToFleetInput = builder.inputType('ReplyToFleetInput', {
  description: 'Exactly one of text or emoji.',
  fields: (t) => ({
    text: t.string({ description: `A private reply: one line of at most ${FLEET_TEXT_MAX} characters.` }),
    emoji: t.string({ description: `A reaction: one of ${REACTIONS.join(' ')}.` }),
  }),
});

const fleetIdArg = (id: string | number) => expectId('fleetId', String(id), 'Fleet');
builder.queryFields((t) => ({
  fleetsBar: t.field({
    type: [FleetAuthor],
    description:
      "The fleets on the top bar, after the live spaces (spacesBar): the viewer's own first when they have active fleets, then the accounts they follow with active fleets, those with unseen fleets first, then the most recent. Empty signed out and for guests. A fleet by id: node(id).",
    resolve: (_r, _a, ctx) => (ctx.viewer && !ctx.viewer.isGuest ? ctx.services.fleets.bar(ctx.viewer.id) : []),
  }),
}));

builder.mutationFields((t) => ({
  postFleet: t.withAuth({ signedIn: true }).field({
    type: Fleet,
    description: `Post a fleet; it expires 24 hours later. BAD_USER_INPUT (extensions.field) for text the policy refuses, both or neither of text and photo, or a bad, used or expired photoUploadId; RATE_LIMITED past 30 an hour. ${UPLOAD_DOC}`,
    args: { input: t.arg({ type: PostFleetInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.fleets.post(ctx.viewer, {
        ...input,
        spaceId: input.spaceId ? expectId('spaceId', String(input.spaceId), 'Space') : null,
      }),
  }),
  deleteFleet: t.withAuth({ signedIn: true }).id({
    description: "Delete one of the viewer's fleets before it expires (its photo too). Returns its id. FORBIDDEN for someone else's; NOT_FOUND when gone.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      await ctx.services.fleets.delete(ctx.viewer.id, fleetIdArg(args.id));
      return String(args.id);
    },
  }),
  markFleetSeen: t.withAuth({ signedIn: true }).field({
    type: Fleet,
    description: 'Mark a fleet seen by the viewer (its ring on the bar; its author\'s viewers list). Idempotent. NOT_FOUND once expired.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.fleets.markSeen(ctx.viewer.id, fleetIdArg(args.id)),
  }),
  replyToFleet: t.withAuth({ signedIn: true }).field({
    type: FleetReply,
    description:
      "Reply privately (text) or react (emoji) to a fleet; its author gets a FLEET_REPLY notification. FORBIDDEN with extensions.reason (a ReplyRefusal: OWN, NOBODY, NOT_FOLLOWED) when the fleet's reply policy does not allow the viewer; NOT_FOUND once expired; RATE_LIMITED past 30 a minute.",
    args: { fleetId: t.arg.id({ required: true }), input: t.arg({ type: ReplyToFleetInput, required: true }) },
    resolve: (_r, args, ctx) => ctx.services.fleets.reply(ctx.viewer, fleetIdArg(args.fleetId), args.input),
  }),
  setDefaultReplyPolicy: t.withAuth({ signedIn: true }).field({
    type: User,
    description: "Who may reply to the viewer's new fleets when postFleet does not say. Returns the viewer.",
    args: { policy: t.arg({ type: ReplyPolicy, required: true }) },
    resolve: async (_r, args, ctx) => {
      const user = await ctx.services.fleets.setDefaultReplyPolicy(ctx.viewer.id, args.policy);
      ctx.viewer = user;
      ctx.loaders.user.clear(user.id).prime(user.id, user);
      return user;
    },
  }),
}));

builder.subscriptionFields((t) => ({
  fleetsBar: t.field({
    type: [FleetAuthor],
    description:
      "The viewer's fleets bar (as the fleetsBar query): sent at once, then again when a followed account (or the viewer) posts or deletes a fleet, one of its fleets expires, or the viewer follows or unfollows someone. UNAUTHENTICATED signed out.",
    subscribe: (_r, _a, ctx) => {
      if (!ctx.viewer) throw unauthenticated();
      return transformStream(ctx.services.fleets.watchBar(ctx.viewer.id), (bar: FleetAuthorEntry[]) => {
        // Fresh loaders per delivery: seen state and users as they are now.
        renewLoaders(ctx);
        return { value: bar };
      });
    },
    resolve: (bar) => bar,
  }),
}));
