// Peak-memory check for out-of-core reading (run under /usr/bin/time -v to see the peak RSS).
//
//   node --import tsx scripts/measure-streaming.ts gen FILE.npy ROWS COLS   write ROWS x COLS float32 (random) with the streaming writer
//   node --import tsx scripts/measure-streaming.ts scan FILE.npy BATCH      read every row in file order, BATCH rows at a time
//   node --import tsx scripts/measure-streaming.ts shuffle FILE.npy BATCH   one epoch of chunked-shuffle batches (default chunk/buffer sizes)
//   node --import tsx scripts/measure-streaming.ts all FILE.npy             read the whole file into one Matrix (for contrast)
//
// Prints rows, seconds, MB/s, a checksum and the process's own peak RSS (process.resourceUsage().maxRSS).
import { Rng } from '../src/core/rng.js';
import { createNpyWriter } from '../src/io/npy-writer.js';
import { batches, openRows, planBatches, readAllRows } from '../src/io/rows.js';

const [mode, path, a, b] = process.argv.slice(2);
const t0 = performance.now();
let rows = 0;
let sum = 0;
let bytes = 0;
if (mode === 'gen') {
  const n = Number(a), d = Number(b);
  const w = createNpyWriter(path, { rows: n, cols: d });
  const per = Math.max(1, Math.floor((16 << 20) / (4 * d)));
  const buf = new Float32Array(per * d);
  const rng = new Rng(1);
  for (let s = 0; s < n; s += per) {
    const k = Math.min(per, n - s);
    const v = buf.subarray(0, k * d);
    for (let i = 0; i < v.length; i++) v[i] = rng.uniform() - 0.5;
    w.append(v);
  }
  w.finish();
  rows = n;
  bytes = n * d * 4;
} else if (mode === 'scan' || mode === 'shuffle') {
  const src = openRows(path);
  const opts = { batch: Number(a ?? 4096), shuffle: mode === 'shuffle' ? ('chunked' as const) : ('none' as const), seed: 0 };
  const plan = planBatches(src, opts);
  console.log(`[${src.rows} x ${src.cols}] ${src.dtype}; batch ${plan.batch}, chunk ${plan.chunkRows} rows, buffer ${plan.bufferChunks} chunks, iterator buffers ${(plan.bufferBytes / 2 ** 20).toFixed(1)} MiB`);
  for (const bt of batches(src, opts)) {
    rows += bt.X.rows;
    sum += bt.X.data[0] + bt.X.data[bt.X.data.length - 1];
  }
  bytes = rows * src.cols * 4;
  src.close();
} else if (mode === 'all') {
  const X = readAllRows(path);
  rows = X.rows;
  for (let i = 0; i < X.data.length; i += 4096) sum += X.data[i];
  bytes = X.data.byteLength;
} else {
  console.error('usage: measure-streaming.ts gen|scan|shuffle|all FILE.npy [ROWS COLS | BATCH]');
  process.exit(2);
}
const s = (performance.now() - t0) / 1000;
console.log(`${mode}: ${rows} rows, ${(bytes / 2 ** 30).toFixed(2)} GiB in ${s.toFixed(1)} s (${(bytes / 2 ** 20 / s).toFixed(0)} MiB/s), checksum ${sum.toFixed(4)}, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
