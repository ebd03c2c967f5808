import { browser, version } from '$app/environment';
import { createApi, type Api } from './api';
import { createSpacesClient, type SpacesClient } from './client';

let spaces: SpacesClient | null = null;
let api: Api | null = null;

/** The app's one client (created on first use, in the browser only: the app renders client-side). */
export function spacesClient(): SpacesClient {
  if (!browser) throw new Error('The GraphQL client runs in the browser only.');
  spaces ??= createSpacesClient({ clientVersion: version });
  return spaces;
}

export function getApi(): Api {
  api ??= createApi(spacesClient());
  return api;
}

export type { Api } from './api';
