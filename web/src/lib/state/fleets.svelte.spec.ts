import { describe, expect, it, vi } from 'vitest';
import type { FleetAuthorData, FleetData } from '$lib/graphql/documents';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { fromHttpError } from '$lib/errors';
import { FleetDraft, FleetsBar, httpFleetPhotoUploader, orderFleetAuthors, replyRefusalText } from './fleets.svelte';

const fleet = (id: string): FleetData => ({
  id,
  kind: 'TEXT',
  text: id,
  caption: null,
  background: 'BLUE',
  photoUrl: null,
  createdAt: '2026-06-01T12:00:00.000Z',
  expiresAt: '2026-06-02T12:00:00.000Z',
  replyPolicy: 'EVERYONE',
  viewerHasSeen: false,
  viewerCanReply: true,
  viewerReplyRefusal: null,
  viewCount: null,
  space: null,
});
const author = (id: string, hasUnseen: boolean, fleets = [fleet(`${id}1`)]): FleetAuthorData => ({
  user: { id, handle: id.toLowerCase(), displayName: id, avatarUrl: null },
  fleets,
  hasUnseen,
});
const urls = { create: () => 'blob:preview', revoke: vi.fn() };
const png = (bytes = 10) => new Blob([new Uint8Array(bytes)], { type: 'image/png' });

describe('the fleets bar', () => {
  it('puts unseen authors first (keeping the order within each), without the viewer or empty authors', () => {
    const order = orderFleetAuthors(
      [author('ME', false), author('A', false), author('B', true), author('C', false), author('D', true), author('E', true, [])],
      'ME',
    );
    expect(order.map((a) => a.user.id)).toEqual(['B', 'D', 'A', 'C']);
  });

  it('follows Subscription.fleetsBar for an account, and nothing for guests or signed out', () => {
    const api = new FakeApi()
      .on('FleetsBar', { fleetsBar: [] })
      .on('ViewerFleetDefaults', { viewer: { id: 'ME', avatarUrl: '/a.webp', defaultReplyPolicy: 'FOLLOWING' } });
    const bar = new FleetsBar(api);
    bar.start(null);
    expect(api.calls).toEqual([]);
    expect(bar.enabled).toBe(false);
    bar.start('ME');
    expect(api.subscriberCount('FleetsBarUpdates')).toBe(1);
    api.emit('FleetsBarUpdates', { fleetsBar: [author('ME', false), author('A', false), author('B', true)] });
    expect(bar.own?.user.id).toBe('ME');
    expect(bar.others.map((a) => a.user.id)).toEqual(['B', 'A']);
    bar.stop();
    expect(api.subscriberCount('FleetsBarUpdates')).toBe(0);
  });
});

describe('the composer', () => {
  it('needs text of at most 280 characters (an emoji counts as one), and counts down', async () => {
    const api = new FakeApi();
    const draft = new FleetDraft(api, vi.fn(), urls);
    draft.reset('EVERYONE');
    expect(await draft.submit()).toBeNull();
    expect(draft.errors.text).toBe('Write something first.');
    draft.text = '🎷'.repeat(280);
    expect(draft.charactersLeft).toBe(0);
    expect(draft.valid).toBe(true);
    draft.text += 'x';
    expect(draft.charactersLeft).toBe(-1);
    expect(draft.errors.text).toBe('Use at most 280 characters.');
    expect(api.calls).toEqual([]);
  });

  it('posts a text on its background with the chosen policy, and makes it the default when asked', async () => {
    const api = new FakeApi()
      .on('PostFleet', { postFleet: fleet('F1') })
      .on('SetDefaultReplyPolicy', { setDefaultReplyPolicy: { id: 'ME', defaultReplyPolicy: 'NOBODY' } });
    const draft = new FleetDraft(api, vi.fn(), urls);
    draft.reset('FOLLOWING');
    expect(draft.replyPolicy).toBe('FOLLOWING');
    draft.text = '  hello   there ';
    draft.background = 'YELLOW';
    draft.replyPolicy = 'NOBODY';
    expect(draft.policyDiffers).toBe(true);
    draft.makeDefault = true;
    expect((await draft.submit())?.id).toBe('F1');
    expect(api.callsTo('PostFleet')[0]!.variables).toEqual({ input: { text: 'hello there', background: 'YELLOW', replyPolicy: 'NOBODY' } });
    expect(api.callsTo('SetDefaultReplyPolicy')[0]!.variables).toEqual({ policy: 'NOBODY' });
  });

  it('refuses a file that is not an image or is too big before sending it; uploads a photo then posts it', async () => {
    const api = new FakeApi().on('PostFleet', { postFleet: fleet('F2') });
    const upload = vi.fn(async () => 'UPLOAD-1');
    const draft = new FleetDraft(api, upload, urls);
    draft.reset('EVERYONE');
    draft.kind = 'PHOTO';
    expect(await draft.submit()).toBeNull();
    expect(draft.errors.photo).toBe('Choose a photo.');
    expect(draft.choosePhoto(new Blob(['x'], { type: 'text/plain' }))).toBe(false);
    expect(draft.error?.message).toMatch(/isn't a photo/);
    expect(draft.choosePhoto(png(8 * 1024 * 1024 + 1))).toBe(false);
    expect(draft.error?.message).toMatch(/at most 8 MB/);
    expect(draft.choosePhoto(png())).toBe(true);
    expect(draft.preview).toBe('blob:preview');
    draft.caption = 'Sunset';
    expect((await draft.submit())?.id).toBe('F2');
    expect(upload).toHaveBeenCalledOnce();
    expect(api.callsTo('PostFleet')[0]!.variables).toEqual({ input: { photoUploadId: 'UPLOAD-1', caption: 'Sunset', replyPolicy: 'EVERYONE' } });
  });

  it("puts the server's refusals into words: too many pixels, rate limits", async () => {
    const api = new FakeApi().on('PostFleet', graphQLError('RATE_LIMITED', 'slow down', { retryAfterMs: 30_000 }));
    const refused = fromHttpError(400, { errors: [{ message: 'x', extensions: { code: 'BAD_USER_INPUT', field: 'photo', reason: 'TOO_MANY_PIXELS' } }] });
    const draft = new FleetDraft(api, vi.fn(async () => Promise.reject(refused)), urls);
    draft.reset('EVERYONE');
    draft.choosePhoto(png());
    expect(await draft.submit()).toBeNull();
    expect(draft.errors.photo).toMatch(/too many pixels \(at most 40 megapixels\)/);
    draft.kind = 'TEXT';
    draft.text = 'hi';
    expect(await draft.submit()).toBeNull();
    expect(draft.error?.message).toBe("You're doing that too often. Try again in 30 seconds.");
  });

  it('shares a live space with an optional line', async () => {
    const api = new FakeApi().on('PostFleet', { postFleet: fleet('F3') });
    const draft = new FleetDraft(api, vi.fn(), urls);
    draft.reset('EVERYONE', { id: 'S1', title: 'Jazz' });
    expect(draft.valid).toBe(true);
    await draft.submit();
    expect(api.callsTo('PostFleet')[0]!.variables).toEqual({ input: { background: 'BLUE', spaceId: 'S1', replyPolicy: 'EVERYONE' } });
  });

  it('uploads with the image as the body, and maps a 413 to TOO_LARGE in words', async () => {
    const fetchOk = vi.fn(async () => new Response(JSON.stringify({ data: { uploadId: 'U9' } }), { status: 200 }));
    expect(await httpFleetPhotoUploader(fetchOk as unknown as typeof fetch)(png())).toBe('U9');
    expect(fetchOk.mock.calls[0]).toMatchObject(['/media/fleet-photo', { method: 'POST', headers: { 'content-type': 'image/png' } }]);
    const fetch413 = vi.fn(async () => new Response('too big', { status: 413 }));
    await expect(httpFleetPhotoUploader(fetch413 as unknown as typeof fetch)(png())).rejects.toMatchObject({ message: 'That photo is too big. Choose one of at most 8 MB.' });
  });
});

describe('replyRefusalText', () => {
  it('says why one cannot reply', () => {
    expect(replyRefusalText('NOT_FOLLOWED', 'hana')).toBe('Only people @hana follows can reply.');
    expect(replyRefusalText('NOBODY', 'hana')).toBe('Replies are off for this fleet.');
    expect(replyRefusalText(null, 'hana')).toBeNull();
  });
});
