/**
 * The signing keys as the rest of the domain sees them: which key signs now,
 * the expired key, the published JWKS, and keeping the schedule filled.
 * Decrypted private keys and parsed public keys are cached in memory by kid.
 */
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { Jwk__Output } from '../../../gen/ts/auth/v1/Jwk.js';
import { defineWrite, type WriteFn } from '../../../lib/writer.js';
import { createAuthStore } from '../store/auth-store.js';
import type { KeyRow } from '../store/auth-store.js';
import { assertKek, generateSigningKey, loadPrivateKey } from './keys.js';
import type { GeneratedKey, RsaPublicJwk } from './keys.js';
import { planRotation, toSeconds } from './rotation.js';
import type { RotationPolicy } from './rotation.js';

export type { WriteFn } from '../../../lib/writer.js';

export interface SigningKey {
  /** The JWT header `kid`. */
  keyId: string;
  privateKey: KeyObject;
  signFrom: number;
  signUntil: number;
  exp: number;
}

/** A public key as the JWKS publishes it: an RS256 signing key named by its kid. */
export function publishedJwk(keyId: string, jwk: RsaPublicJwk): Jwk__Output {
  return { kty: jwk.kty, use: 'sig', alg: 'RS256', kid: keyId, n: jwk.n, e: jwk.e };
}

/** The signing-key schedule at a moment, for the metrics (`KeyRing.status`). */
export interface KeyStatus {
  /** Seconds the key signing now still signs; undefined when no key signs (tokens cannot be issued). */
  signsForS: number | undefined;
  /** Keys in the JWKS: the signing one, its published successor, and retired ones whose tokens may live. */
  published: number;
}

export interface EnsureResult {
  created: number;
  deleted: number;
  extended: boolean;
}

export class KeyRing {
  readonly #db: Database;
  readonly #write: WriteFn;
  readonly #kek: Buffer;
  readonly #policy: RotationPolicy;
  readonly #privateKeys = new Map<string, KeyObject>();
  readonly #publicKeys = new Map<string, KeyObject>();

  constructor(options: { db: Database; write: WriteFn; keyEncryptionKey: Buffer; policy: RotationPolicy }) {
    assertKek(options.keyEncryptionKey);
    this.#db = options.db;
    this.#write = options.write;
    this.#kek = Buffer.from(options.keyEncryptionKey); // our own copy
    this.#policy = options.policy;
  }

  get policy(): RotationPolicy {
    return this.#policy;
  }

  /**
   * Makes sure a key signs at `now`, that a successor is published ahead of
   * the current key's end, and that one expired key exists. Keys are generated
   * outside the write; the plan is recomputed inside it, so concurrent callers
   * do not create duplicates. For the primary to call at start and periodically.
   */
  async ensureSigningKeys(now: Date): Promise<EnsureResult> {
    const needed = planRotation(this.#db, now, this.#policy);
    if (needed.insert.length === 0 && needed.delete.length === 0 && needed.extend === undefined) {
      return { created: 0, deleted: 0, extended: false };
    }
    const generated: GeneratedKey[] = await Promise.all(needed.insert.map(() => generateSigningKey(this.#kek)));
    // Only the sealed private keys go to the write, never the usable ones.
    const keys = generated.map((g) => ({ key_id: g.keyId, sealed: g.sealed, public_jwk: JSON.stringify(g.publicJwk) }));
    return this.#write(applyRotation, { now, policy: this.#policy, keys });
  }

  /** The newest key with sign_from <= now < sign_until, if any. */
  currentSigningKey(now: Date): SigningKey | undefined {
    const row = createAuthStore(this.#db).signingKey(toSeconds(now));
    return row && this.#signingKey(row);
  }

  /**
   * What the metrics show of the schedule at `now`, from the rows alone (no
   * key is decrypted): how long the key signing now has left to sign, if one
   * does, and how many keys the JWKS publishes.
   */
  status(now: Date): KeyStatus {
    const store = createAuthStore(this.#db);
    const at = toSeconds(now);
    const signing = store.signingKey(at);
    return { signsForS: signing && signing.sign_until - at, published: store.publishedKeys(at).length };
  }

  /** The newest key whose exp has passed (not in the JWKS), if any. */
  expiredKey(now: Date): SigningKey | undefined {
    const row = createAuthStore(this.#db).newestExpiredKey(toSeconds(now));
    return row && this.#signingKey(row);
  }

  /** Every key with exp > now, as public JWKs. */
  publicJwks(now: Date): Jwk__Output[] {
    return createAuthStore(this.#db)
      .publishedKeys(toSeconds(now))
      .map((row) => publishedJwk(row.key_id, JSON.parse(row.public_jwk) as RsaPublicJwk));
  }

  /** The public key for a JWT `kid` if that key is published at `now`. */
  publicKey(keyId: string, now: Date): KeyObject | undefined {
    const row = createAuthStore(this.#db).keyByKeyId(keyId);
    if (row === undefined || row.exp <= toSeconds(now)) return undefined;
    let key = this.#publicKeys.get(keyId);
    if (key === undefined) {
      const jwk = JSON.parse(row.public_jwk) as RsaPublicJwk;
      key = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' });
      this.#publicKeys.set(keyId, key);
    }
    return key;
  }

  #signingKey(row: KeyRow): SigningKey {
    let privateKey = this.#privateKeys.get(row.key_id);
    if (privateKey === undefined) {
      privateKey = loadPrivateKey(row.key, this.#kek, row.key_id);
      this.#privateKeys.set(row.key_id, privateKey);
    }
    return { keyId: row.key_id, privateKey, signFrom: row.sign_from, signUntil: row.sign_until, exp: row.exp };
  }
}

/**
 * Applies the rotation plan as of now, recomputed inside the write, inserting
 * at most the keys generated for it (a write operation, lib/writer.ts).
 */
const applyRotation = defineWrite(
  'auth.rotateKeys',
  (db, a: { now: Date; policy: RotationPolicy; keys: Array<{ key_id: string; sealed: Uint8Array; public_jwk: string }> }): EnsureResult => {
    const plan = planRotation(db, a.now, a.policy);
    const store = createAuthStore(db);
    if (plan.extend) store.extendKey(plan.extend.kid, plan.extend.sign_until, plan.extend.exp);
    const inserts = plan.insert.slice(0, a.keys.length);
    inserts.forEach((times, i) => {
      const k = a.keys[i]!;
      // A Buffer arrives from a writer thread as a plain Uint8Array.
      store.insertKey({ ...times, key: Buffer.from(k.sealed.buffer, k.sealed.byteOffset, k.sealed.byteLength), key_id: k.key_id, public_jwk: k.public_jwk });
    });
    for (const kid of plan.delete) store.deleteKey(kid);
    return { created: inserts.length, deleted: plan.delete.length, extended: plan.extend !== undefined };
  },
);
