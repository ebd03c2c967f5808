import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';

type VerifyDone = (ok: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void;

/**
 * At most `max` open WebSockets per client key on this instance: past it the upgrade is
 * refused with HTTP 429 before it happens (ws's verifyClient). A socket counts from the
 * upgrade request until its TCP connection closes, however the handshake ends.
 */
export function capSocketsPerClient(max: number, keyOf: (req: IncomingMessage) => string) {
  const open = new Map<string, number>();
  const release = (key: string) => {
    const left = (open.get(key) ?? 1) - 1;
    if (left > 0) open.set(key, left);
    else open.delete(key);
  };
  return {
    verifyClient(info: { req: IncomingMessage }, done: VerifyDone): void {
      const { socket } = info.req;
      if (socket.destroyed) return done(false, 400, 'Connection closed');
      const key = keyOf(info.req);
      const count = open.get(key) ?? 0;
      if (count >= max)
        return done(false, 429, `At most ${max} WebSockets per client`, { 'retry-after': '30', 'content-type': 'text/plain' });
      open.set(key, count + 1);
      socket.once('close', () => release(key));
      done(true);
    },
    /** Open sockets of a client key (for tests and diagnostics). */
    openFor: (key: string) => open.get(key) ?? 0,
  };
}
