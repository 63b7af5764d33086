/**
 * Merge the results.jsonl of several run folders (same hyperparameters: their sweep.json must
 * agree) into one file: one line per config × seed × method, the latest successful line of each
 * cell (a failed line only when no folder has a success).
 *
 *   node --import tsx scripts/merge-results.ts OUT.jsonl DIR1 DIR2 ...
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic.js';
import { cellKey, readResults, type ResultLine } from '../src/experiments/runner.js';

const [out, ...dirs] = process.argv.slice(2);
if (!out || dirs.length === 0) {
  console.error('usage: scripts/merge-results.ts OUT.jsonl DIR [DIR ...]');
  process.exit(2);
}
const settings = dirs.map((d) => JSON.stringify(JSON.parse(readFileSync(join(d, 'sweep.json'), 'utf8')).settings));
for (let i = 1; i < dirs.length; i++) {
  if (settings[i] !== settings[0]) {
    console.error(`${dirs[i]}/sweep.json has other hyperparameters than ${dirs[0]}/sweep.json: not merged`);
    process.exit(1);
  }
}
const cells = new Map<string, ResultLine>();
let read = 0;
for (const d of dirs) {
  for (const l of readResults(join(d, 'results.jsonl')).lines) {
    read++;
    const k = cellKey(l.config, l.method);
    const had = cells.get(k);
    if (!had || !l.error || had.error) cells.set(k, l);
  }
}
writeFileAtomic(out, [...cells.values()].map((l) => JSON.stringify(l)).join('\n') + '\n');
console.log(`${out}: ${cells.size} cells from ${read} lines in ${dirs.length} folders`);
