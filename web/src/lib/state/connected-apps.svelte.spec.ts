import { describe, expect, it } from 'vitest';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { ConnectedApps } from './connected-apps.svelte';

const authorization = (n: number) => ({
  id: `G${n}`,
  scopes: ['READ'],
  createdAt: '2026-01-01T00:00:00.000Z',
  lastUsedAt: null,
  app: { id: `A${n}`, name: `App ${n}`, description: null, owner: { id: 'U9', handle: 'maker', displayName: 'Maker' } },
});

describe('ConnectedApps', () => {
  it('lists the apps the viewer allowed and revokes one', async () => {
    const api = new FakeApi()
      .on('AppAuthorizations', { appAuthorizations: [authorization(1), authorization(2)] })
      .on('RevokeAppAuthorization', { revokeAppAuthorization: true });
    const connected = new ConnectedApps(api);
    expect(connected.status).toBe('loading');
    await connected.load();
    expect(connected.status).toBe('ready');
    await connected.revoke('G1');
    expect(api.callsTo('RevokeAppAuthorization')[0]?.variables).toEqual({ id: 'G1' });
    expect(connected.authorizations.map((a) => a.id)).toEqual(['G2']);
  });

  it('keeps the app listed when revoking fails', async () => {
    const api = new FakeApi()
      .on('AppAuthorizations', { appAuthorizations: [authorization(1)] })
      .on('RevokeAppAuthorization', graphQLError('INTERNAL_SERVER_ERROR', 'x'));
    const connected = new ConnectedApps(api);
    await connected.load();
    await expect(connected.revoke('G1')).rejects.toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
    expect(connected.authorizations).toHaveLength(1);
    expect(connected.revoking).toBeNull();
  });
});
