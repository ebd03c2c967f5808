import { describe, expect, it, vi } from 'vitest';
import { shareLink, spaceUrl } from './share';

const data = { title: 'Morning show', url: 'https://spaces.example/s/abc' };

describe('shareLink', () => {
  it('uses the Web Share API when the browser has it', async () => {
    const share = vi.fn(async () => {});
    const writeText = vi.fn(async () => {});
    expect(await shareLink({ share, clipboard: { writeText } }, data)).toBe('shared');
    expect(share).toHaveBeenCalledWith({ title: 'Morning show', text: 'Morning show', url: data.url });
    expect(writeText).not.toHaveBeenCalled();
  });

  it('does nothing more when the share sheet is closed', async () => {
    const share = vi.fn(async () => {
      throw Object.assign(new Error('closed'), { name: 'AbortError' });
    });
    const writeText = vi.fn(async () => {});
    expect(await shareLink({ share, clipboard: { writeText } }, data)).toBe('cancelled');
    expect(writeText).not.toHaveBeenCalled();
  });

  it('copies the link without the Web Share API, or when sharing fails', async () => {
    const writeText = vi.fn(async () => {});
    expect(await shareLink({ clipboard: { writeText } }, data)).toBe('copied');
    const failing = vi.fn(async () => {
      throw Object.assign(new Error('no'), { name: 'NotAllowedError' });
    });
    expect(await shareLink({ share: failing, clipboard: { writeText } }, data)).toBe('copied');
    expect(writeText).toHaveBeenCalledTimes(2);
    expect(writeText).toHaveBeenCalledWith(data.url);
  });

  it('says so when neither works', async () => {
    expect(await shareLink({}, data)).toBe('failed');
    const writeText = vi.fn(async () => {
      throw new Error('denied');
    });
    expect(await shareLink({ clipboard: { writeText } }, data)).toBe('failed');
  });
});

describe('spaceUrl', () => {
  it('is the space page on the app origin', () => {
    expect(spaceUrl('https://spaces.example', 'U3BhY2U6MQ')).toBe('https://spaces.example/s/U3BhY2U6MQ');
  });
});
