import type { Plugin } from 'graphql-yoga';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';

export const MAX_BODY_BYTES = 100_000;

/**
 * Bounds on what one request may ask: body size (before parsing), then query depth, aliases,
 * directives, tokens and cost (graphql-armor, during validation). Tuned so that the PWA's
 * and ordinary Relay queries pass with room to spare.
 */
export function useLimits(maxBodyBytes = MAX_BODY_BYTES): Plugin[] {
  const bodyLimit: Plugin = {
    onRequest({ request, endResponse, fetchAPI }) {
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > maxBodyBytes)
        endResponse(
          new fetchAPI.Response(
            JSON.stringify({
              errors: [
                {
                  message: `Request body is ${length} bytes; the limit is ${maxBodyBytes}.`,
                  extensions: { code: 'BAD_USER_INPUT' },
                },
              ],
            }),
            { status: 413, headers: { 'content-type': 'application/json' } },
          ),
        );
    },
  };
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: 12, propagateOnRejection: true },
    maxAliases: { n: 15 },
    maxDirectives: { n: 20 },
    maxTokens: { n: 2_000 },
    costLimit: { maxCost: 15_000, objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 },
    blockFieldSuggestion: { enabled: true },
  });
  return [bodyLimit, armor as Plugin];
}
