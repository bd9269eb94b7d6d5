import { type RedisOptions } from 'ioredis';

/**
 * ioredis options from a `redis://[user:password@]host:port[/db]` (or `rediss://`) URL. BullMQ gets options, not
 * connection objects, so that it owns its connections and closes them on `close()` (a process that drains exits).
 */
export function redisOptions(url: string, extra: RedisOptions = {}): RedisOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`redis URL must start with redis:// or rediss://, got ${url}`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new Error(`redis URL ${url}: the path must be a database number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.password && { password: decodeURIComponent(u.password) }),
    ...(db !== undefined && { db }),
    ...(u.protocol === 'rediss:' && { tls: {} }),
    ...extra,
  };
}
