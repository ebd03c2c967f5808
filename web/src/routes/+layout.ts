// The app renders in the browser: its data comes from /graphql with the session cookie, and
// the API serves this build's shell for every page path (adapter-node, no server rendering).
export const ssr = false;
export const prerender = false;
