/**
 * The space the person is in on this page right now, if any. The room view sets it while the
 * viewer is present in a live space; the sign-out button asks before signing out of one (signing
 * out makes the person leave every space they are in).
 */
export interface ActiveSpaceInfo {
  id: string;
  title: string;
  /** The viewer hosts it: leaving starts the host's grace period. */
  hosting: boolean;
}

export class ActiveSpace {
  current = $state<ActiveSpaceInfo | null>(null);

  /** The viewer is in this space (or its title or role changed). */
  enter(info: ActiveSpaceInfo): void {
    const now = this.current;
    if (now && now.id === info.id && now.title === info.title && now.hosting === info.hosting) return;
    this.current = info;
  }

  /** The viewer is no longer in `id` (left, removed, ended, or the page closed); another space stays. */
  leave(id: string): void {
    if (this.current?.id === id) this.current = null;
  }

  /** What the sign-out confirmation says, or null when there is nothing to confirm. */
  get signOutWarning(): string | null {
    const space = this.current;
    if (!space) return null;
    return space.hosting
      ? `You're hosting “${space.title}”. Signing out takes you out of it; if you don't come back within a few minutes, it ends for everyone.`
      : `You're in “${space.title}”. Signing out makes you leave it.`;
  }
}

/** The one for this page (the layout's sign-out reads it; rooms write it). */
export const activeSpace = new ActiveSpace();
