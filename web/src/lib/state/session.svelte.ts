import { AppError, toAppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  SignInMutation,
  SignOutMutation,
  SignUpMutation,
  StartGuestSessionMutation,
  ViewerQuery,
  type UserBasic,
} from '$lib/graphql/documents';

export type SessionStatus = 'loading' | 'ready' | 'error';

/** The viewer a session stands for: a guest is a listener-only account (startGuest). */
export type SessionViewer = UserBasic & { isGuest: boolean };

/** Handle rules of the API, checked before asking it. */
export const HANDLE_PATTERN = /^[A-Za-z0-9_]{3,15}$/;

/**
 * Who is signed in. The session itself is the HttpOnly `spaces_session` cookie that signIn and
 * signUp set; this class only knows the viewer that cookie stands for.
 */
export class Session {
  viewer = $state<SessionViewer | null>(null);
  status = $state<SessionStatus>('loading');
  error = $state<AppError | null>(null);

  /** A session exists (an account, or a guest's listener-only one): the room's join flow runs. */
  readonly signedIn = $derived(this.viewer !== null);
  /** Listening without an account: offer "Sign in" / "Create account", never account actions. */
  readonly isGuest = $derived(this.viewer?.isGuest ?? false);
  /** Signed in with a real account (not a guest). */
  readonly hasAccount = $derived(this.viewer !== null && !this.viewer.isGuest);

  #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  /** Asks who the cookie belongs to (null when signed out). */
  async load(): Promise<void> {
    try {
      const data = await this.#api.query(ViewerQuery, {});
      this.viewer = data.viewer;
      this.status = 'ready';
      this.error = null;
    } catch (error) {
      this.error = toAppError(error);
      this.status = this.error.code === 'UNAUTHENTICATED' ? 'ready' : 'error';
      if (this.error.code === 'UNAUTHENTICATED') this.viewer = null;
    }
  }

  /**
   * A signed-out visitor listens without an account: the API makes a guest account and its
   * session (cookie), and the socket reopens with it. RATE_LIMITED comes back as an AppError.
   */
  async startGuest(): Promise<SessionViewer> {
    const data = await this.#api.mutate(StartGuestSessionMutation, {});
    return this.#became(data.startGuestSession.user);
  }

  async signIn(handle: string, password: string): Promise<SessionViewer> {
    const data = await this.#api.mutate(SignInMutation, { input: { handle: handle.trim(), password } });
    return this.#became(data.signIn.user);
  }

  async signUp(input: { handle: string; displayName: string; password: string }): Promise<SessionViewer> {
    const data = await this.#api.mutate(SignUpMutation, {
      input: { handle: input.handle.trim(), displayName: input.displayName.trim(), password: input.password },
    });
    return this.#became(data.signUp.user);
  }

  async signOut(): Promise<void> {
    try {
      await this.#api.mutate(SignOutMutation, {});
    } finally {
      this.viewer = null;
      this.#api.resetConnection();
    }
  }

  /** A request failed as signed out: forget the viewer (the cookie expired or was revoked). */
  expired(): void {
    if (this.viewer) {
      this.viewer = null;
      this.#api.resetConnection();
    }
  }

  #became(user: SessionViewer): SessionViewer {
    this.viewer = user;
    this.status = 'ready';
    this.error = null;
    // The socket was opened with the old cookie: open a new one with the new session.
    this.#api.resetConnection();
    return user;
  }
}

/** Client-side checks of the sign-up form, worded for people; empty when all is well. */
export function validateSignUp(input: { handle: string; displayName: string; password: string }): Record<string, string> {
  const errors: Record<string, string> = {};
  const handle = input.handle.trim();
  if (!HANDLE_PATTERN.test(handle)) errors.handle = 'Use 3–15 letters, digits or underscores.';
  const name = input.displayName.trim();
  if (name.length < 1) errors.displayName = 'Enter the name people will see.';
  else if (name.length > 50) errors.displayName = 'Use at most 50 characters.';
  if (input.password.length < 8) errors.password = 'Use at least 8 characters.';
  else if (input.password.length > 256) errors.password = 'Use at most 256 characters.';
  return errors;
}
