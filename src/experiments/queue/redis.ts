import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { fail } from '../../core/errors.js';

/**
 * Where the queue is: a Redis URL `redis://[[user]:password@]host[:port][/db]` (or `rediss://`
 * for TLS), parsed and checked before anything connects, and a connection check that answers
 * in seconds (an unreachable or password-protected Redis is a clear error, never a hang).
 */

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  /** Redis 6 ACL user (default: none, the `default` user) */
  username?: string;
  password?: string;
  tls: boolean;
  /** the URL for messages: the password replaced by *** */
  display: string;
}

/** Parse and check a Redis URL; throws E_USAGE naming the fix. */
export function parseRedisUrl(url: string): RedisTarget {
  const example = 'redis://[:password@]host:port[/db], e.g. redis://127.0.0.1:6379/0 or rediss://:secret@redis.lab:6380/1';
  if (typeof url !== 'string' || url.trim() === '') fail('E_USAGE', `--queue needs a Redis URL: ${example}`);
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    fail('E_USAGE', `--queue: "${redact(url)}" is not a URL; use ${example}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') fail('E_USAGE', `--queue: the URL must start with redis:// (or rediss:// for TLS), got ${u.protocol}//; use ${example}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) fail('E_USAGE', `--queue: the URL names no host; use ${example}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('E_USAGE', `--queue: port must be 1-65535, got ${u.port}`);
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isInteger(db) || db < 0 || db > 65535) fail('E_USAGE', `--queue: the database after the port must be a number (e.g. /0), got /${path}`);
  if (u.search || u.hash) fail('E_USAGE', `--queue: the URL takes no query or fragment (${u.search}${u.hash}); use ${example}`);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      fail('E_USAGE', '--queue: the user or password in the URL is not valid percent-encoding');
    }
  };
  const username = u.username ? decode(u.username) : undefined;
  const password = u.password ? decode(u.password) : undefined;
  const tls = u.protocol === 'rediss:';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const auth = username || password ? `${username ?? ''}${password ? ':***' : ''}@` : '';
  return { host, port, db, username, password, tls, display: `${u.protocol}//${auth}${hostPart}:${port}/${db}` };
}

/** A URL for messages, the password hidden (also for strings that do not parse). */
export function redact(url: string): string {
  return String(url).replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/**
 * ioredis options for a long-lived BullMQ connection: reconnect (with a note) when Redis goes
 * away, and never fail a blocking command (BullMQ's workers require maxRetriesPerRequest null).
 */
export function redisOptions(t: RedisTarget): RedisOptions {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    username: t.username,
    password: t.password,
    // TLS checks the server's certificate against the host (a name, or an IP address in its SAN)
    tls: t.tls ? (isIP(t.host) ? {} : { servername: t.host }) : undefined,
    connectTimeout: 10_000,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(200 * times, 5000),
  };
}

export interface RedisInfo {
  version: string;
}

/**
 * Connect once, with no retries, and read the server's version: resolves within `timeoutMs`
 * or throws E_IO saying what went wrong (refused, unknown host, wrong password, TLS, timeout)
 * and how to fix it. Refuses Redis older than 5.0 (BullMQ's minimum; 6.2+ recommended).
 */
export async function checkRedis(t: RedisTarget, timeoutMs = 5000): Promise<RedisInfo> {
  const client = new Redis({
    ...redisOptions(t),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let lastError = '';
  client.on('error', (e: Error) => {
    lastError = e.message;
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${(timeoutMs / 1000).toFixed(0)} s${lastError ? ` (${lastError})` : ''}`)), timeoutMs);
  });
  try {
    const info = await Promise.race([client.connect().then(() => client.info('server')), timeout]);
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1]?.trim() ?? '0.0.0';
    if (Number(version.split('.')[0]) < 5) fail('E_IO', `Redis at ${t.display} is version ${version}; the queue needs Redis 5.0 or newer (6.2+ recommended): install a newer redis-server`);
    return { version };
  } catch (e) {
    if ((e as { code?: string }).code === 'E_IO') throw e;
    // ioredis rejects connect() with a generic message; the socket's own error says what happened
    const own = (e as Error).message || String(e);
    const msg = lastError && (/Connection is closed|connect/i.test(own) || !own) ? lastError : own;
    let hint = `start redis-server there (docs/queue.md) or fix the --queue URL`;
    if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(msg)) hint = 'give the password in the URL (redis://:PASSWORD@host:port) or fix it';
    else if (/ENOTFOUND|EAI_AGAIN/.test(msg)) hint = 'check the host name in the --queue URL';
    else if (t.tls && /no answer|ECONNRESET|SSL|TLS|certificate|wrong version/i.test(msg)) hint = 'check that the server speaks TLS on that port (rediss://), or use redis:// for a plain one';
    fail('E_IO', `cannot reach Redis at ${t.display}: ${msg}; ${hint}`);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
