import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private redis-server for the queue's tests and benchmark: Debian's `redis-server` on a free
 * port of 127.0.0.1 only (never another address), no persistence, in a temporary folder, and
 * stopped (SIGTERM, then SIGKILL) by `stop()`.
 */

export interface LocalRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** The redis-server binary (REDIS_SERVER or the first on PATH), or null when there is none. */
export function redisServerPath(): string | null {
  const candidates = [process.env.REDIS_SERVER, 'redis-server', '/usr/bin/redis-server', '/usr/local/bin/redis-server'].filter((x): x is string => !!x);
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0 && /Redis server/i.test(r.stdout)) return c;
  }
  return null;
}

/** A free TCP port on 127.0.0.1 (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function answers(port: number, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const c = tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : createConnection({ host: '127.0.0.1', port });
    let buf = '';
    c.setTimeout(500);
    c.on(tls ? 'secureConnect' : 'connect', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('PONG') || buf.includes('NOAUTH')) {
        c.destroy();
        resolve(true);
      }
    });
    c.on('timeout', () => (c.destroy(), resolve(false)));
    c.on('error', () => resolve(false));
  });
}

/**
 * Start redis-server on a free loopback port; resolves once it answers PING. `password` sets
 * requirepass; `tls` serves TLS only (rediss://) with this certificate and key (PEM files).
 */
export async function startRedis(o: { password?: string; tls?: { cert: string; key: string } } = {}): Promise<LocalRedis> {
  const bin = redisServerPath();
  if (!bin) throw new Error('redis-server is not installed (Debian: apt-get install redis-server)');
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-redis-'));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const listen = o.tls
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', o.tls.cert, '--tls-key-file', o.tls.key, '--tls-ca-cert-file', o.tls.cert, '--tls-auth-clients', 'no']
      : ['--port', String(port)];
    const args = [...listen, '--bind', '127.0.0.1', '--protected-mode', 'yes', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
    if (o.password) args.push('--requirepass', o.password);
    const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let exited = false;
    child.on('exit', () => (exited = true));
    const t0 = Date.now();
    while (!exited && Date.now() - t0 < 10_000) {
      if (await answers(port, !!o.tls)) {
        const stop = async () => {
          if (!exited) {
            child.kill('SIGTERM');
            const t = Date.now();
            while (!exited && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 20));
            if (!exited) child.kill('SIGKILL');
          }
          rmSync(dir, { recursive: true, force: true });
        };
        const auth = o.password ? `:${encodeURIComponent(o.password)}@` : '';
        return { url: `${o.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}/0`, port, pid: child.pid!, stop };
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    if (!exited) child.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('redis-server did not start on a free loopback port (5 tries)');
}
