import { brandWithType } from '@pothos/core';
import { builder } from '../builder.ts';
import { parseGlobalId, toGlobalId, type NodeType } from '../lib/ids.ts';

/** Each loaded entity carries its GraphQL type so `Node` can resolve it. */
export interface NodeSource {
  id: string;
}

export const NodeInterface = builder.interfaceRef<NodeSource>('Node').implement({
  description: 'An object with a global id, fetchable with `node(id:)`; the id names its type.',
  fields: (t) => ({
    id: t.id({ description: 'Opaque global id.', resolve: (source, _args, _ctx, info) => toGlobalId(info.parentType.name as NodeType, source.id) }),
  }),
});

type NodeLoader = (id: string, ctx: import('../context.ts').Context) => Promise<NodeSource | null>;
const nodeLoaders = new Map<string, NodeLoader>();

/** Entity files register how to load their nodes by raw id. */
export function registerNodeLoader(type: NodeType, load: NodeLoader) {
  nodeLoaders.set(type, load);
}

builder.queryField('node', (t) =>
  t.field({
    type: NodeInterface,
    nullable: true,
    description: 'Any object by its global id; null when it does not exist or is not visible.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const parsed = parseGlobalId(String(id));
      if (!parsed) return null;
      const node = (await nodeLoaders.get(parsed.type)?.(parsed.id, ctx)) ?? null;
      // The id names the type: branded with it, `Node` resolves to it without guessing from the row's shape.
      if (node) brandWithType(node, parsed.type as never);
      return node;
    },
  }),
);
