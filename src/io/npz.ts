import { readFileSync } from 'node:fs';
import { unzipSync, zipSync } from 'fflate';
import { fail, isSparsecodeError } from '../core/errors.js';
import { decodeNpy, encodeNpy, type NpyArray } from './npy.js';
import { writeFileAtomic } from './atomic.js';

/**
 * NumPy .npz archives (`np.savez`, `np.savez_compressed`): a zip file of `.npy` members, one per
 * array, named `<key>.npy`. The zip container is read by fflate (a maintained zip/deflate
 * library), not by hand; each member is then parsed by the validating .npy reader.
 *
 * Bounds checked before anything is inflated: only stored (0) and deflate (8) members; a
 * member's declared size at most MAX_MEMBER_BYTES and at most what its compressed size can
 * inflate to (deflate's ratio is below 1032:1; a stored member's sizes must agree); the total
 * at most MAX_TOTAL_BYTES. Members that are not `.npy` are listed but not read. Duplicate keys,
 * empty archives, members whose inflated size differs from the declared one and malformed zip
 * data are E_FORMAT. (Zip CRCs are not checked: fflate does not expose them.)
 */
export const MAX_MEMBER_BYTES = 2 ** 31 - 1;
export const MAX_TOTAL_BYTES = 2 ** 33;
/** deflate cannot expand data by more than this factor (RFC 1951: 258 bytes from 2 bits) */
const DEFLATE_MAX_RATIO = 1032;

export interface NpzFile {
  arrays: Record<string, NpyArray>;
  /** member names that are not .npy files (ignored) */
  skipped: string[];
}

/** Parse an .npz byte buffer; `name` appears in error messages. */
export function decodeNpz(buf: Uint8Array, name = 'file'): NpzFile {
  if (!(buf instanceof Uint8Array)) fail('E_ARG', `${name}: decodeNpz needs bytes (a Uint8Array)`);
  if (buf.length < 22 || buf[0] !== 0x50 || buf[1] !== 0x4b) fail('E_FORMAT', `${name}: not a zip archive (an .npz file starts with "PK"); was it written by np.savez?`);
  let total = 0;
  const skipped: string[] = [];
  const declared = new Map<string, number>();
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(buf, {
      filter(f) {
        if (!f.name.endsWith('.npy')) {
          skipped.push(f.name);
          return false;
        }
        if (f.compression !== 0 && f.compression !== 8) fail('E_FORMAT', `${name}: member ${f.name} uses zip compression method ${f.compression}; only stored (0) and deflate (8) are read (re-save with np.savez or np.savez_compressed)`);
        const bound = f.compression === 0 ? f.size : f.size * DEFLATE_MAX_RATIO + 1024;
        if (!(f.originalSize >= 0) || f.originalSize > bound) fail('E_FORMAT', `${name}: member ${f.name} claims ${f.originalSize} bytes from ${f.size} compressed bytes, which ${f.compression === 0 ? 'a stored member must equal' : 'deflate cannot produce'}; the archive is corrupt`);
        if (f.originalSize > MAX_MEMBER_BYTES) fail('E_FORMAT', `${name}: member ${f.name} is ${f.originalSize} bytes, above the ${MAX_MEMBER_BYTES}-byte limit per array; save it as .npy or .safetensors instead`);
        declared.set(f.name, f.originalSize);
        total += f.originalSize;
        if (total > MAX_TOTAL_BYTES) fail('E_FORMAT', `${name}: the archive inflates to more than ${MAX_TOTAL_BYTES} bytes`);
        return true;
      },
    });
  } catch (e) {
    if (isSparsecodeError(e)) throw e;
    fail('E_FORMAT', `${name}: not a readable .npz archive (${(e as Error).message || String(e)})`);
  }
  const arrays: Record<string, NpyArray> = {};
  for (const [member, bytes] of Object.entries(members)) {
    const key = member.slice(0, -4);
    if (declared.get(member) !== bytes.length) fail('E_FORMAT', `${name}: member ${member} inflates to ${bytes.length} bytes but the zip directory declares ${declared.get(member)}; the archive is corrupt`);
    if (Object.prototype.hasOwnProperty.call(arrays, key)) fail('E_FORMAT', `${name}: two members are named ${member}`);
    arrays[key] = decodeNpy(bytes, `${name}:${member}`);
  }
  if (!Object.keys(arrays).length) fail('E_FORMAT', `${name}: the archive holds no .npy arrays${skipped.length ? ` (members: ${skipped.slice(0, 5).join(', ')})` : ''}`);
  return { arrays, skipped };
}

export function readNpz(path: string): NpzFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    fail('E_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeNpz(buf, path);
}

/** An .npz archive of float arrays (deflate-compressed unless `compress` is false), as bytes. */
export function encodeNpz(arrays: Record<string, { shape: number[]; data: Float32Array | Float64Array }>, opts: { compress?: boolean } = {}): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [k, a] of Object.entries(arrays)) files[`${k}.npy`] = encodeNpy(a);
  return zipSync(files, { level: opts.compress === false ? 0 : 6 });
}

export function writeNpz(path: string, arrays: Record<string, { shape: number[]; data: Float32Array | Float64Array }>, opts: { compress?: boolean } = {}): void {
  writeFileAtomic(path, encodeNpz(arrays, opts));
}
