export { buildApp, type App, type BuildAppOptions } from './app.ts';
export { schema, printedSchema } from './schema/index.ts';
export type { Context, Services } from './context.ts';
