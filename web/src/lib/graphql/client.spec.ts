import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CLIENT_NAME, createSpacesClient, retryDelayMs, UNTRUSTED_DOCUMENT, websocketUrl, type SpacesClient } from './client';
import { ViewerQuery } from './documents';
import { graphql } from './tada';

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

describe('the client sends trusted documents by hash', () => {
  const manifest = JSON.parse(readFileSync(path.resolve('../api/trusted-documents/spaces-web.json'), 'utf8')) as {
    operations: { id: string; name: string; body: string }[];
  };

  async function bodySentFor(document: Parameters<SpacesClient['client']['query']>[0]) {
    const requests: { body: Record<string, unknown>; headers: Headers }[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      requests.push({ body: JSON.parse(String(init.body)), headers: new Headers(init.headers) });
      return new Response(JSON.stringify({ data: { viewer: null } }), { headers: { 'content-type': 'application/json' } });
    });
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { client } = createSpacesClient({ url: 'http://spaces.test/graphql', wsUrl: 'ws://spaces.test/graphql', clientVersion: 'b1' });
    await client.query(document, {}).toPromise();
    vi.unstubAllGlobals();
    expect(requests).toHaveLength(1);
    return requests[0]!;
  }

  it('sends a document of the manifest as its sha256 only, with the client name and version', async () => {
    const { body, headers } = await bodySentFor(ViewerQuery);
    const viewer = manifest.operations.find((o) => o.name === 'Viewer');
    expect(body.query).toBeUndefined();
    expect(body.extensions).toEqual({ persistedQuery: { version: 1, sha256Hash: viewer?.id } });
    expect(headers.get('graphql-client-name')).toBe(CLIENT_NAME);
    expect(headers.get('graphql-client-version')).toBe('b1');
  });

  it('never sends a document outside the manifest either (the API answers PERSISTED_QUERY_NOT_FOUND)', async () => {
    const { body } = await bodySentFor(graphql(`query NotTrusted { viewer { id } }`));
    expect(body.query).toBeUndefined();
    expect(body.extensions).toEqual({ persistedQuery: { version: 1, sha256Hash: UNTRUSTED_DOCUMENT } });
  });
});
