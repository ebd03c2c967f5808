import { describe, expect, it } from 'vitest';
import { retryDelayMs, websocketUrl } from './client';

describe('websocketUrl', () => {
  it('uses the page origin: ws on http, wss on https', () => {
    expect(websocketUrl({ protocol: 'http:', host: '127.0.0.1:3000' })).toBe('ws://127.0.0.1:3000/graphql');
    expect(websocketUrl({ protocol: 'https:', host: 'spaces.example' })).toBe('wss://spaces.example/graphql');
  });
});

describe('retryDelayMs', () => {
  it('backs off exponentially with jitter, capped at 15 s', () => {
    expect(retryDelayMs(0, () => 0)).toBe(250);
    expect(retryDelayMs(0, () => 1)).toBe(500);
    expect(retryDelayMs(3, () => 1)).toBe(4_000);
    expect(retryDelayMs(50, () => 1)).toBe(15_000);
    expect(retryDelayMs(50, () => 0)).toBe(7_500);
  });
});
