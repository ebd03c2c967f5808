/** The link to a space, on the app's own origin. */
export function spaceUrl(origin: string, spaceId: string): string {
  return `${origin}/s/${encodeURIComponent(spaceId)}`;
}

/** What sharing needs of the browser (navigator), so specs can stand in for it. */
export interface ShareTarget {
  share?: (data: { title?: string; text?: string; url?: string }) => Promise<void>;
  clipboard?: { writeText(text: string): Promise<void> };
}

/**
 * How a share ended: the system share sheet took it ('shared'), the visitor closed the sheet
 * ('cancelled'), the link is on the clipboard ('copied'), or neither worked ('failed': show the
 * link so it can be copied by hand).
 */
export type ShareOutcome = 'shared' | 'cancelled' | 'copied' | 'failed';

/**
 * Shares a link: the Web Share API where the browser has it (phones), else copies the link.
 * A share sheet that fails for another reason than being closed falls back to copying.
 */
export async function shareLink(target: ShareTarget, data: { title: string; url: string }): Promise<ShareOutcome> {
  if (typeof target.share === 'function') {
    try {
      await target.share({ title: data.title, text: data.title, url: data.url });
      return 'shared';
    } catch (error) {
      if ((error as { name?: string } | null)?.name === 'AbortError') return 'cancelled';
    }
  }
  try {
    if (!target.clipboard) return 'failed';
    await target.clipboard.writeText(data.url);
    return 'copied';
  } catch {
    return 'failed';
  }
}
