import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

/** The built SvelteKit app (adapter-node's handler), or a plain page saying how to build it. */
export async function serveWeb(): Promise<Handler> {
  const handlerPath = fileURLToPath(new URL('../../web/build/handler.js', import.meta.url));
  if (existsSync(handlerPath)) {
    const { handler } = (await import(pathToFileURL(handlerPath).href)) as { handler: Handler };
    return (req, res) =>
      handler(req, res, () => {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      });
  }
  return (_req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end('<!doctype html><title>Spaces</title><h1>Spaces</h1><p>The web app is not built: run <code>pnpm build</code>. The API is at <a href="/graphql">/graphql</a>.</p>');
  };
}
