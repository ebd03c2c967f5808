import { getContext, setContext } from 'svelte';
import type { Api } from '$lib/graphql/api';
import type { Notices } from '$lib/state/notices.svelte';
import type { AppUpdates } from '$lib/state/pwa.svelte';
import type { Session } from '$lib/state/session.svelte';

export interface AppContext {
  api: Api;
  session: Session;
  notices: Notices;
  updates: AppUpdates;
}

const KEY = Symbol('spaces-app');

export function setAppContext(context: AppContext): AppContext {
  return setContext(KEY, context);
}

/** The app-wide state, from the root layout. */
export function useApp(): AppContext {
  const context = getContext<AppContext | undefined>(KEY);
  if (!context) throw new Error('useApp() outside the root layout');
  return context;
}
