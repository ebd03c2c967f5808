import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from '../builder.ts';
import { withGuestLimits } from '../plugins/useGuestLimits.ts';
import { withTokenScopes } from '../plugins/useTokenScopes.ts';
import './user.ts';
import './auth.ts';
import './space.ts';
import './participant.ts';
import './space-event.ts';
import './audio.ts';
import './ice.ts';
import './search.ts';
import './fleet.ts';
import './notification.ts';
import './app.ts';

// Guests (listener-only accounts) are limited at the root fields: plugins/useGuestLimits.ts.
// Tokens are limited to their scopes at the root fields, checked first: plugins/useTokenScopes.ts.
export const schema = withTokenScopes(withGuestLimits(builder.toSchema()));

/** The served schema as SDL, sorted so the printed file diffs cleanly. */
export const printedSchema = () => printSchema(lexicographicSortSchema(schema)) + '\n';
