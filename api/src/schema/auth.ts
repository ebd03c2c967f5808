import { builder } from '../builder.ts';
import type { UserRow } from '../services/accounts.ts';
import { User } from './user.ts';
import { conflict } from '../errors.ts';
import type { Context } from '../context.ts';
import { GUEST_SESSION_TTL_MS } from '../domain/rules.ts';

const AuthPayload = builder.objectRef<{ token: string; user: UserRow }>('AuthPayload').implement({
  description: 'A new session.',
  fields: (t) => ({
    token: t.exposeString('token', {
      description: 'Bearer token for API clients; the PWA gets the same session as an HttpOnly cookie.',
    }),
    user: t.field({ type: User, resolve: (p) => p.user }),
  }),
});

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    handle: t.string({ required: true, description: '3–15 letters, digits or underscores; unique ignoring case.' }),
    displayName: t.string({ required: true, description: '1–50 characters.' }),
    password: t.string({ required: true, description: '8–256 characters.' }),
  }),
});

const SignInInput = builder.inputType('SignInInput', {
  fields: (t) => ({
    handle: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

/**
 * Signing in or up from a guest session replaces it: the guest session ends and the guest leaves
 * their spaces, as on signOut (the janitor then deletes the unused guest account).
 */
async function endGuestSession(ctx: Context): Promise<void> {
  if (!ctx.viewer?.isGuest || !ctx.sessionId) return;
  await ctx.services.accounts.revokeSession(ctx.sessionId);
  await ctx.services.spaces.leaveEverywhere(ctx.viewer.id);
}

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    description: 'Create an account and sign in. BAD_USER_INPUT names the field at fault; CONFLICT when the handle is taken.',
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      await ctx.services.limits.signUp(ctx.clientKey);
      const result = await ctx.services.accounts.signUp(input);
      await ctx.services.limits.signedUp(result.user.handle, ctx.clientKey);
      await endGuestSession(ctx);
      ctx.setSessionCookie(result.token);
      return result;
    },
  }),
  signIn: t.field({
    type: AuthPayload,
    description:
      'Sign in. A wrong password or an unknown handle (not told apart) is UNAUTHENTICATED with `extensions.reason: "WRONG_CREDENTIALS"` and the message "Wrong handle or password. …", to show as it is. Rate limited per handle and client, and for clients that have not signed in to the handle recently also per handle and per client (RATE_LIMITED with retryAfterMs).',
    args: { input: t.arg({ type: SignInInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const result = await ctx.services.limits.signIn(input.handle, ctx.clientKey, () =>
        ctx.services.accounts.signIn(input.handle, input.password),
      );
      await endGuestSession(ctx);
      ctx.setSessionCookie(result.token);
      return result;
    },
  }),
  startGuestSession: t.field({
    type: AuthPayload,
    description:
      'Signed out only: a listener-only guest account and its session (cookie set as by signIn, token returned). RATE_LIMITED per client (10 an hour). Guests may read, joinSpace (as LISTENER), leaveSpace, listenAudio/answerAudio/disconnectAudio, subscribe to spaceEvents, signIn/signUp/signOut; everything else is FORBIDDEN with extensions.reason GUEST.',
    resolve: async (_root, _args, ctx) => {
      if (ctx.viewer) throw conflict('Already signed in: sign out first.');
      await ctx.services.limits.guestSession(ctx.clientKey);
      const result = await ctx.services.accounts.startGuest();
      // The cookie lives as long as the guest session, not a signed-in one's 30 days.
      ctx.setSessionCookie(result.token, GUEST_SESSION_TTL_MS / 1000);
      return result;
    },
  }),
  signOut: t.boolean({
    description:
      'Revoke the current session (its token stops working) and clear the cookie; the user leaves every space they are in (a host is away, as after leaveSpace). Called with a personal access token or an OAuth access token, it revokes that token only. False when not signed in.',
    resolve: async (_root, _args, ctx) => {
      // A token (personal or OAuth) signing out revokes itself only: the person's own sign-in,
      // its cookie and their presence in spaces are not the token's to end.
      const isToken = ctx.auth.kind === 'personal' || ctx.auth.kind === 'oauth';
      if (!isToken) ctx.setSessionCookie(null);
      if (!ctx.sessionId) return false;
      await ctx.services.accounts.revokeSession(ctx.sessionId);
      // Signed out is not there: nobody should see them listening, or invite them.
      if (ctx.viewer && !isToken) await ctx.services.spaces.leaveEverywhere(ctx.viewer.id);
      return true;
    },
  }),
}));
