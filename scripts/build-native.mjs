#!/usr/bin/env node
/**
 * Build the optional native backend (native/ -> native/build/Release/sparsecode.node).
 *
 * Run by `npm install` / `npm ci` / `npm rebuild` (the package's "install" script) or by hand:
 *   node scripts/build-native.mjs [--verbose]
 *
 * 1. find OpenBLAS (the library, and its cblas.h when there is one);
 * 2. build with node-gyp (npm's bundled copy, via npm_config_node_gyp, PATH, or next to npm);
 * 3. if node-gyp is missing or fails, compile directly with the C compiler;
 * 4. load the result in a child process to check it works.
 *
 * Never fails the install: without OpenBLAS or a compiler it prints one line saying why and
 * exits 0 (the library then uses the wasm or js backend). Environment:
 *   SPARSECODE_SKIP_NATIVE=1      do nothing
 *   SPARSECODE_REQUIRE_NATIVE=1   exit 1 when the backend cannot be built (for CI)
 *   SPARSECODE_OPENBLAS_DIR=path  an OpenBLAS prefix (with lib/ and include/) to use first
 *   SPARSECODE_NATIVE_BUILDER=cc  skip node-gyp and compile directly (=node-gyp: no fallback)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const outFile = join(nativeDir, 'build', 'Release', 'sparsecode.node');
const verbose = process.argv.includes('--verbose') || !!process.env.SPARSECODE_VERBOSE_BUILD;
const require_ = process.env.SPARSECODE_REQUIRE_NATIVE === '1';

function done(ok, line) {
  process.stdout.write(`sparsecode: ${line}\n`);
  process.exit(ok || !require_ ? 0 : 1);
}

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

if (process.env.SPARSECODE_SKIP_NATIVE === '1') done(true, 'native backend not built (SPARSECODE_SKIP_NATIVE=1); using wasm/js backends');
if (process.platform === 'win32') done(false, 'native backend not built (Windows is not supported yet); using wasm/js backends');
if (!existsSync(join(nativeDir, 'src', 'sparsecode.h'))) done(false, 'native backend not built (native/src is missing from this package)');

// ---- 1. OpenBLAS -------------------------------------------------------------------------
const multiarch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu' }[process.arch] ?? '';
const prefixes = [process.env.SPARSECODE_OPENBLAS_DIR, process.env.OPENBLAS_HOME, '/usr', '/usr/local', '/opt/homebrew/opt/openblas', '/usr/local/opt/openblas', '/opt/OpenBLAS'].filter(Boolean);
const libDirs = [];
const incDirs = [];
for (const p of prefixes) {
  if (multiarch) libDirs.push(join(p, 'lib', multiarch), join(p, 'lib', multiarch, 'openblas-pthread'), join(p, 'lib', multiarch, 'openblas-openmp'));
  libDirs.push(join(p, 'lib64'), join(p, 'lib'), join(p, 'lib64', 'openblas'));
  if (multiarch) incDirs.push(join(p, 'include', multiarch, 'openblas-pthread'), join(p, 'include', multiarch, 'openblas-openmp'), join(p, 'include', multiarch));
  incDirs.push(join(p, 'include', 'openblas'), join(p, 'include'));
}

let lib = null;
for (const d of libDirs) {
  for (const name of ['libopenblas.so', 'libopenblas.dylib']) {
    if (isFile(join(d, name))) {
      lib = { dir: d, flags: [`-L${d}`, '-lopenblas'] };
      break;
    }
  }
  if (lib) break;
  // only the runtime library (no -dev symlink): link it by file name
  if (process.platform === 'linux' && isFile(join(d, 'libopenblas.so.0'))) {
    lib = { dir: d, flags: [`-L${d}`, '-l:libopenblas.so.0'] };
    break;
  }
}
if (!lib) {
  done(false, 'native backend not built: OpenBLAS not found (install libopenblas-dev, or set SPARSECODE_OPENBLAS_DIR); using wasm/js backends');
}
const systemDirs = new Set(['/usr/lib', '/usr/lib64', `/usr/lib/${multiarch}`, '/lib', `/lib/${multiarch}`]);
if (!systemDirs.has(lib.dir)) lib.flags.push(`-Wl,-rpath,${lib.dir}`);

// An OpenBLAS cblas.h (declares openblas_set_num_threads); without one the source declares the CBLAS ABI itself.
let inc = '';
for (const d of incDirs) {
  const h = join(d, 'cblas.h');
  if (isFile(h)) {
    try {
      if (readFileSync(h, 'utf8').includes('openblas_set_num_threads')) {
        inc = d;
        break;
      }
    } catch {
      /* unreadable: keep looking */
    }
  }
}

// ---- 2. node-gyp ----------------------------------------------------------------------------
function findOnPath(name) {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d && isFile(join(d, name))) return join(d, name);
  }
  return null;
}

function nodeGypCommand() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && isFile(fromNpm)) return fromNpm.endsWith('.js') ? [process.execPath, fromNpm] : [fromNpm];
  const bundledCandidates = [
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const npmCli = process.env.npm_execpath;
  if (npmCli) bundledCandidates.unshift(join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const c of bundledCandidates) if (isFile(c)) return [process.execPath, c];
  const onPath = findOnPath('node-gyp');
  if (onPath) return [onPath];
  return null;
}

// Node's headers: use the local copy when there is one (no download, works offline).
const nodePrefix = resolve(dirname(process.execPath), '..');
const localHeaders = isFile(join(nodePrefix, 'include', 'node', 'node_api.h')) ? nodePrefix : null;

const env = {
  ...process.env,
  SPARSECODE_OPENBLAS_INCLUDE: inc,
  SPARSECODE_OPENBLAS_LIBS: lib.flags.join(' '),
};

function run(cmd, args, opts = {}) {
  if (verbose) process.stdout.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  if (verbose) process.stdout.write(output);
  return { ok: r.status === 0, output };
}

function lastLines(s, n = 8) {
  return s.trim().split('\n').slice(-n).map((l) => `  | ${l}`).join('\n');
}

function checkLoads() {
  const r = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(outFile)}); const c = new Float32Array(1); a.sgemm(false, false, 1, 1, 1, 1, new Float32Array([2]), 1, new Float32Array([3]), 1, 0, c, 1); if (c[0] !== 6) throw new Error('sgemm gave ' + c[0]); process.stdout.write(a.blasInfo());`], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const failures = [];

const builder = process.env.SPARSECODE_NATIVE_BUILDER ?? '';
const gyp = builder === 'cc' ? null : nodeGypCommand();
if (gyp) {
  const args = [...gyp.slice(1), 'rebuild', '--directory', nativeDir];
  if (localHeaders) args.push(`--nodedir=${localHeaders}`);
  if (!verbose) args.push('--loglevel=warn');
  const r = run(gyp[0], args);
  if (r.ok && isFile(outFile)) {
    const c = checkLoads();
    if (c.ok) done(true, `native backend built with node-gyp (${c.output.trim()})`);
    failures.push(`node-gyp built it but it does not load:\n${lastLines(c.output)}`);
  } else {
    failures.push(`node-gyp failed:\n${lastLines(r.output)}`);
  }
} else {
  failures.push(builder === 'cc' ? 'node-gyp skipped (SPARSECODE_NATIVE_BUILDER=cc)' : 'node-gyp not found');
}

// ---- 3. direct compile ---------------------------------------------------------------------
const nodeInc = builder === 'node-gyp' ? undefined : [join(nodePrefix, 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) => isFile(join(d, 'node_api.h')));
if (nodeInc) {
  const cc = process.env.CC || findOnPath('cc') || findOnPath('gcc') || findOnPath('clang');
  if (cc) {
    rmSync(outFile, { force: true });
    mkdirSync(dirname(outFile), { recursive: true });
    const args = ['-O3', '-std=c11', '-fno-math-errno', '-fPIC', '-pthread', '-DNODE_GYP_MODULE_NAME=sparsecode', '-DBUILDING_NODE_EXTENSION', `-I${nodeInc}`];
    if (inc) args.push(`-I${inc}`, '-DSPARSECODE_HAVE_CBLAS_H');
    args.push(process.platform === 'darwin' ? '-bundle' : '-shared');
    if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
    // every C file of native/src (one per kernel family; binding.gyp lists the same ones)
    const sources = readdirSync(join(nativeDir, 'src')).filter((f) => f.endsWith('.c')).sort().map((f) => join(nativeDir, 'src', f));
    args.push(...sources, '-o', outFile, ...lib.flags, '-lm');
    const r = run(cc, args);
    if (r.ok) {
      const c = checkLoads();
      if (c.ok) done(true, `native backend built with ${cc} (${c.output.trim()})`);
      failures.push(`${cc} built it but it does not load:\n${lastLines(c.output)}`);
    } else {
      failures.push(`${cc} failed:\n${lastLines(r.output)}`);
    }
  } else failures.push('no C compiler found (set CC)');
} else failures.push(builder === 'node-gyp' ? 'direct compile skipped (SPARSECODE_NATIVE_BUILDER=node-gyp)' : "Node's C headers (node_api.h) not found for a direct compile");

rmSync(outFile, { force: true });
if (verbose || require_) process.stdout.write(`${failures.join('\n')}\n`);
done(false, `native backend not built (${failures.map((f) => f.split('\n')[0].replace(/:$/, '')).join('; ')}); using wasm/js backends. Details: node scripts/build-native.mjs --verbose`);
