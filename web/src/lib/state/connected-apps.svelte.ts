import type { Api } from '$lib/graphql/api';
import { AppAuthorizationsQuery, RevokeAppAuthorizationMutation, type AppAuthorizationData } from '$lib/graphql/apps';
import { OwnList } from './own-list.svelte';

/** The apps the viewer allowed to act for them, and taking that back. */
export class ConnectedApps extends OwnList<AppAuthorizationData> {
  #api: Api;

  constructor(api: Api) {
    super(async () => (await api.query(AppAuthorizationsQuery, {})).appAuthorizations);
    this.#api = api;
  }

  get authorizations(): AppAuthorizationData[] {
    return this.items;
  }

  /** The authorization being revoked. */
  get revoking(): string | null {
    return this.removing;
  }

  /** Revokes every token of that app for the viewer; throws an AppError when refused. */
  revoke(id: string): Promise<void> {
    return this.removeItem(id, () => this.#api.mutate(RevokeAppAuthorizationMutation, { id }));
  }
}
