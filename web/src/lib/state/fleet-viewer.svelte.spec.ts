import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FleetAuthorData, FleetData } from '$lib/graphql/documents';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { FleetViewer, fleetQueue } from './fleet-viewer.svelte';

const fleet = (id: string, over: Partial<FleetData> = {}): FleetData => ({
  id,
  kind: 'TEXT',
  text: `text ${id}`,
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
  ...over,
});
const user = (id: string, handle: string) => ({ id, handle, displayName: handle.toUpperCase(), avatarUrl: null });
const author = (id: string, handle: string, fleets: FleetData[], hasUnseen = true): FleetAuthorData => ({ user: user(id, handle), fleets, hasUnseen });

function setup(authors: FleetAuthorData[], viewerId = 'ME', extra: { fleetId?: string; start?: number } = {}) {
  const api = new FakeApi().on('MarkFleetSeen', (v: Record<string, unknown>) => ({ markFleetSeen: { id: v.id, viewerHasSeen: true } }));
  const onClose = vi.fn();
  const viewer = new FleetViewer(api, { viewerId, authors, onClose, durationMs: 5000, ...extra });
  return { api, viewer, onClose };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('FleetViewer', () => {
  it('auto-advances every 5 seconds through one author, then the next, then closes', () => {
    const { viewer, onClose, api } = setup([author('A', 'ana', [fleet('a1'), fleet('a2')]), author('B', 'bo', [fleet('b1')])]);
    viewer.start();
    expect(viewer.fleet?.id).toBe('a1');
    expect(viewer.progressLabel).toBe('Fleet 1 of 2');
    expect(viewer.segments).toEqual(['current', 'todo']);
    vi.advanceTimersByTime(4999);
    expect(viewer.fleet?.id).toBe('a1');
    vi.advanceTimersByTime(1);
    expect(viewer.fleet?.id).toBe('a2');
    expect(viewer.progressLabel).toBe('Fleet 2 of 2');
    expect(viewer.segments).toEqual(['done', 'current']);
    vi.advanceTimersByTime(5000);
    expect(viewer.author?.user.handle).toBe('bo');
    expect(viewer.progressLabel).toBe('Fleet 1 of 1');
    expect(onClose).not.toHaveBeenCalled();
    vi.advanceTimersByTime(5000);
    expect(onClose).toHaveBeenCalledOnce();
    expect(viewer.closed).toBe(true);
    // Each one shown was marked seen, once.
    expect(api.callsTo('MarkFleetSeen').map((c) => c.variables.id)).toEqual(['a1', 'a2', 'b1']);
  });

  it('goes forward and back by hand, across authors, and restarts the timer each time', () => {
    const { viewer } = setup([author('A', 'ana', [fleet('a1')]), author('B', 'bo', [fleet('b1'), fleet('b2')])]);
    viewer.start();
    vi.advanceTimersByTime(3000);
    viewer.next();
    expect(viewer.fleet?.id).toBe('b1');
    // A full 5 s for the new one, not the 2 s left of the last.
    vi.advanceTimersByTime(4000);
    expect(viewer.fleet?.id).toBe('b1');
    viewer.previous();
    expect(viewer.fleet?.id).toBe('a1');
    viewer.previous();
    expect(viewer.fleet?.id).toBe('a1');
    viewer.next();
    viewer.next();
    expect(viewer.fleet?.id).toBe('b2');
    viewer.previous();
    expect(viewer.fleet?.id).toBe('b1');
  });

  it('pauses while held, while hidden and while typing, keeping the time left', () => {
    const { viewer } = setup([author('A', 'ana', [fleet('a1'), fleet('a2')])]);
    viewer.start();
    vi.advanceTimersByTime(3000);
    viewer.hold(true);
    expect(viewer.paused).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(viewer.fleet?.id).toBe('a1');
    viewer.hold(false);
    vi.advanceTimersByTime(1999);
    expect(viewer.fleet?.id).toBe('a1');
    viewer.setHidden(true);
    vi.advanceTimersByTime(10_000);
    expect(viewer.fleet?.id).toBe('a1');
    viewer.setHidden(false);
    viewer.setTyping(true);
    vi.advanceTimersByTime(10_000);
    expect(viewer.fleet?.id).toBe('a1');
    viewer.setTyping(false);
    vi.advanceTimersByTime(1);
    expect(viewer.fleet?.id).toBe('a2');
  });

  it("starts at the author's first unseen fleet, or at the one a link names", () => {
    const fleets = () => [fleet('a1', { viewerHasSeen: true }), fleet('a2'), fleet('a3')];
    expect(setup([author('A', 'ana', fleets())]).viewer.fleet?.id).toBe('a2');
    expect(setup([author('A', 'ana', fleets())], 'ME', { fleetId: 'a3' }).viewer.fleet?.id).toBe('a3');
  });

  it("does not mark the viewer's own fleets seen; the author opens viewers and replies (the fleet waits)", async () => {
    const { viewer, api } = setup([author('ME', 'me', [fleet('m1', { viewCount: 2, viewerHasSeen: true })], false)]);
    api.on('FleetViewers', {
      node: {
        id: 'm1',
        viewCount: 2,
        viewers: { edges: [{ node: user('B', 'bo') }], pageInfo: { hasNextPage: true, endCursor: 'c1' } },
      },
    });
    viewer.start();
    expect(viewer.isOwn).toBe(true);
    expect(viewer.replyRefusal).toBeNull();
    viewer.openPanel('viewers');
    expect(viewer.paused).toBe(true);
    await vi.waitFor(() => expect(viewer.viewers?.items.map((u) => u.handle)).toEqual(['bo']));
    expect(viewer.viewers?.hasMore).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(viewer.closed).toBe(false);
    viewer.closePanel();
    vi.advanceTimersByTime(5000);
    expect(viewer.closed).toBe(true);
    expect(api.callsTo('MarkFleetSeen')).toEqual([]);
  });

  it('sends a reply or a reaction privately and says so; shows why when replies are not allowed', async () => {
    const { viewer, api } = setup([
      author('A', 'ana', [fleet('a1'), fleet('a2', { viewerCanReply: false, viewerReplyRefusal: 'NOT_FOLLOWED' })]),
    ]);
    api.on('ReplyToFleet', { replyToFleet: { id: 'R1' } });
    viewer.start();
    expect(viewer.canReply).toBe(true);
    viewer.replyText = '  so   good ';
    await viewer.sendReply();
    expect(api.callsTo('ReplyToFleet')[0]!.variables).toEqual({ fleetId: 'a1', input: { text: 'so good' } });
    expect(viewer.sent).toBe('Sent to @ana');
    expect(viewer.replyText).toBe('');
    await viewer.react('🔥');
    expect(api.callsTo('ReplyToFleet')[1]!.variables).toEqual({ fleetId: 'a1', input: { emoji: '🔥' } });
    viewer.next();
    expect(viewer.sent).toBeNull();
    expect(viewer.canReply).toBe(false);
    expect(viewer.replyRefusal).toBe('Only people @ana follows can reply.');
  });

  it('hides the box when the server refuses a reply (the policy changed meanwhile)', async () => {
    const { viewer, api } = setup([author('A', 'ana', [fleet('a1')])]);
    api.on('ReplyToFleet', graphQLError('FORBIDDEN', 'Replies are off', { reason: 'NOBODY' }));
    viewer.start();
    await viewer.react('👏');
    expect(viewer.canReply).toBe(false);
    expect(viewer.replyRefusal).toBe('Replies are off for this fleet.');
  });

  it('deletes the shown fleet and moves on; the last one closes the viewer', async () => {
    const { viewer, api, onClose } = setup([author('ME', 'me', [fleet('m1'), fleet('m2')], false)]);
    api.on('DeleteFleet', (v: Record<string, unknown>) => ({ deleteFleet: v.id }));
    viewer.start();
    await viewer.deleteFleet();
    expect(viewer.fleet?.id).toBe('m2');
    expect(viewer.progressLabel).toBe('Fleet 1 of 1');
    await viewer.deleteFleet();
    expect(onClose).toHaveBeenCalledOnce();
  });
});

describe('fleetQueue', () => {
  const bar = [
    author('ME', 'me', [fleet('m1')], false),
    author('A', 'ana', [fleet('a1')], false),
    author('B', 'bo', [fleet('b1')], true),
  ];
  it('plays followed authors unseen first from the chosen one; the own fleets alone', () => {
    expect(fleetQueue(bar, 'ME', 'bo')).toMatchObject({ start: 0, authors: [{ user: { handle: 'bo' } }, { user: { handle: 'ana' } }] });
    expect(fleetQueue(bar, 'ME', 'ANA')).toMatchObject({ start: 1 });
    expect(fleetQueue(bar, 'ME', 'me')?.authors.map((a) => a.user.handle)).toEqual(['me']);
    expect(fleetQueue(bar, 'ME', 'nobody')).toBeNull();
  });
});

describe('FleetViewer pause button', () => {
  it('stops auto-advance until pressed again; arrows still move by hand', () => {
    vi.useFakeTimers();
    const api = new FakeApi().on('MarkFleetSeen', { markFleetSeen: { id: 'x', viewerHasSeen: true } });
    const viewer = new FleetViewer(api, { viewerId: 'ME', authors: [{ user: { id: 'A', handle: 'ana', displayName: 'Ana', avatarUrl: null }, fleets: [fleetOf('a1'), fleetOf('a2'), fleetOf('a3')] }] });
    viewer.start();
    viewer.togglePaused();
    vi.advanceTimersByTime(60_000);
    expect(viewer.fleet?.id).toBe('a1');
    viewer.next();
    expect(viewer.fleet?.id).toBe('a2');
    vi.advanceTimersByTime(60_000);
    expect(viewer.fleet?.id).toBe('a2');
    viewer.togglePaused();
    vi.advanceTimersByTime(5000);
    expect(viewer.fleet?.id).toBe('a3');
    vi.useRealTimers();
  });
});

function fleetOf(id: string): FleetData {
  return {
    id, kind: 'TEXT', text: id, caption: null, background: 'BLUE', photoUrl: null,
    createdAt: '2026-06-01T12:00:00.000Z', expiresAt: '2026-06-02T12:00:00.000Z', replyPolicy: 'EVERYONE',
    viewerHasSeen: false, viewerCanReply: true, viewerReplyRefusal: null, viewCount: null, space: null,
  };
}
