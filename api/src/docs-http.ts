import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

const API_DOC = fileURLToPath(new URL('../../docs/api.md', import.meta.url));

/**
 * GET/HEAD /docs/api: the API's guide for third-party developers (docs/api.md), as the Markdown
 * it is written in (no renderer is a dependency; browsers show it as text). Read on each request
 * (it is small, and this keeps it current in development).
 */
export async function docsHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    return void res.end('Use GET.');
  }
  const body = await readFile(API_DOC).catch(() => null);
  if (!body) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    return void res.end('Not found');
  }
  res.writeHead(200, {
    'content-type': 'text/markdown; charset=utf-8',
    'content-length': String(body.byteLength),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'access-control-allow-origin': '*',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
