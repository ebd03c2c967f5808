import { describe, expect, it } from 'vitest';
import { ActiveSpace } from './active-space.svelte';

describe('ActiveSpace', () => {
  it('nothing to confirm outside a space', () => {
    expect(new ActiveSpace().signOutWarning).toBeNull();
  });

  it('warns a listener that signing out leaves the space, and a host about the grace period', () => {
    const active = new ActiveSpace();
    active.enter({ id: 'S1', title: 'Morning show', hosting: false });
    expect(active.signOutWarning).toBe('You\'re in “Morning show”. Signing out makes you leave it.');
    active.enter({ id: 'S1', title: 'Morning show', hosting: true });
    expect(active.signOutWarning).toMatch(/^You're hosting “Morning show”\..*ends for everyone\.$/);
  });

  it('leaving another space keeps the current one; leaving it clears', () => {
    const active = new ActiveSpace();
    active.enter({ id: 'S2', title: 'Later', hosting: false });
    active.leave('S1');
    expect(active.current?.id).toBe('S2');
    active.leave('S2');
    expect(active.current).toBeNull();
    expect(active.signOutWarning).toBeNull();
  });
});
