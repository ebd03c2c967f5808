import { randomBytes } from 'node:crypto';

/** What tests read from Janus's admin API. */
export interface AdminReply {
  sessions?: number[];
  handles?: number[];
  info?: { opaque_id?: string; sdps?: { remote?: string } };
}

/** Janus's admin API (a Janus started with adminPort and adminSecret): one request. */
export function janusAdmin(adminUrl: string, adminSecret: string) {
  return async (path: string, body: Record<string, unknown>): Promise<AdminReply> => {
    const res = await fetch(adminUrl + path, {
      method: 'POST',
      body: JSON.stringify({ ...body, transaction: randomBytes(6).toString('hex'), admin_secret: adminSecret }),
    });
    return (await res.json()) as AdminReply;
  };
}

/** Every handle of every session Janus holds, as [session, handle] pairs. */
export async function janusHandles(admin: ReturnType<typeof janusAdmin>): Promise<[number, number][]> {
  const { sessions = [] } = await admin('', { janus: 'list_sessions' });
  const all: [number, number][] = [];
  for (const s of sessions) for (const h of (await admin(`/${s}`, { janus: 'list_handles' })).handles ?? []) all.push([s, h]);
  return all;
}
