// Adds up the vitest JSON reports that the suites wrote under .reports/ and prints one closing
// line, "N passed, N failed, N skipped", so a CI log says plainly what ran.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const dir = new URL('../.reports/', import.meta.url);
let passed = 0;
let failed = 0;
let skipped = 0;
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
for (const file of files) {
  const report = JSON.parse(readFileSync(new URL(file, dir), 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if (report.numFailedTestSuites && !report.numFailedTests) failed += report.numFailedTestSuites;
}
console.log(`${files.length} suites reported`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
