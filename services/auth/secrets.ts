/**
 * The auth service's two secrets: the key-encryption key and the first
 * registrar's credentials. Each comes from the environment if set there, else
 * from a file in the cluster's secrets directory (scripts/cluster-env.sh
 * creates both files once), so that by default no process on the node, LiteFS
 * and the node's supervisor included, carries them in its environment.
 */
import { readFileSync } from 'node:fs';
import { env, optionalEnv } from '../../lib/config.js';

/** The 32-byte key that encrypts signing keys at rest: hex, from AUTH_KEY_ENCRYPTION_KEY or the file AUTH_KEY_ENCRYPTION_KEY_FILE names. */
export function loadKeyEncryptionKey(): Buffer {
  const inline = optionalEnv('AUTH_KEY_ENCRYPTION_KEY');
  const hex = (inline ?? readFileSync(env('AUTH_KEY_ENCRYPTION_KEY_FILE'), 'utf8')).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('the key-encryption key must be 32 bytes written as 64 hex digits');
  return Buffer.from(hex, 'hex');
}

export interface RegistrarCredentials {
  username: string;
  password: string;
}

/**
 * The first registrar: REGISTRAR_USERNAME and REGISTRAR_PASSWORD where set, each
 * else from the `NAME=value` lines of the file REGISTRAR_FILE names. Undefined
 * when either is still missing (no registrar is created then).
 */
export function registrarCredentials(): RegistrarCredentials | undefined {
  let username = optionalEnv('REGISTRAR_USERNAME');
  let password = optionalEnv('REGISTRAR_PASSWORD');
  const file = optionalEnv('REGISTRAR_FILE');
  if ((username === undefined || password === undefined) && file !== undefined) {
    const values = readNameValueFile(file);
    username ??= values.get('REGISTRAR_USERNAME');
    password ??= values.get('REGISTRAR_PASSWORD');
  }
  return username && password ? { username, password } : undefined;
}

/** The `NAME=value` lines of a file; none if it does not exist. */
function readNameValueFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return values;
}
