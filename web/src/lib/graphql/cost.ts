import { Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionNode } from '@0no-co/graphql.web';

/**
 * The API bounds what one request may ask (api/src/plugins/useLimits.ts, graphql-armor):
 * depth ≤ 12, aliases ≤ 15, and a cost ≤ 15,000 where a scalar costs 1, an object 2, each level
 * of nesting (a fragment spread counts as one) multiplies by 1.5, and a literal `first: N`
 * multiplies a list's cost by N. This computes the same cost, so a spec can keep every document
 * the app sends well under the limit.
 */
export const API_LIMITS = { maxCost: 15_000, maxDepth: 12, maxAliases: 15 } as const;

const SCALAR = 1;
const OBJECT = 2;
const FACTOR = 1.5;

export function operationCost(document: DocumentNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const visited = new Map<string, number>();

  const cost = (node: SelectionNode | FragmentDefinitionNode): number => {
    let total = SCALAR;
    if ('selectionSet' in node && node.selectionSet) {
      total = OBJECT;
      let multiplier = 1;
      const first = 'arguments' in node ? node.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last') : undefined;
      if (first && first.value.kind === Kind.INT) multiplier = Math.max(Number.parseInt(first.value.value, 10) || 1, 1);
      for (const child of node.selectionSet.selections) total += FACTOR * cost(child);
      total *= multiplier;
    } else if (node.kind === Kind.FRAGMENT_SPREAD) {
      const name = node.name.value;
      if (visited.has(name)) return total + FACTOR * (visited.get(name) ?? 0);
      visited.set(name, -1);
      const fragment = fragments.get(name);
      if (fragment) {
        const fragmentCost = cost(fragment);
        total += FACTOR * fragmentCost;
        if (visited.get(name) === -1) visited.set(name, fragmentCost);
      }
    }
    return total;
  };

  let sum = 0;
  for (const d of document.definitions)
    if (d.kind === Kind.OPERATION_DEFINITION) for (const s of d.selectionSet.selections) sum += cost(s);
  return sum;
}

/** Nesting depth of an operation, fragments expanded (as graphql-armor's max-depth counts it). */
export function operationDepth(document: DocumentNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const depth = (selections: readonly SelectionNode[], level: number): number => {
    let max = level;
    for (const s of selections) {
      if (s.kind === Kind.FIELD) max = Math.max(max, s.selectionSet ? depth(s.selectionSet.selections, level + 1) : level);
      else if (s.kind === Kind.INLINE_FRAGMENT) max = Math.max(max, depth(s.selectionSet.selections, level));
      else {
        const f = fragments.get(s.name.value);
        if (f) max = Math.max(max, depth(f.selectionSet.selections, level));
      }
    }
    return max;
  };
  let max = 0;
  for (const d of document.definitions)
    if (d.kind === Kind.OPERATION_DEFINITION) max = Math.max(max, depth(d.selectionSet.selections, 0));
  return max;
}
