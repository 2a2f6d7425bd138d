/**
 * Signing key material: RSA-2048 generation and encryption at rest.
 *
 * The private key (PKCS#8 PEM) is sealed with AES-256-GCM under a 32-byte
 * key-encryption key (KEK) that never enters the database. The stored blob is
 * iv(12) | tag(16) | ciphertext; the key's string id is bound in as
 * additional authenticated data, so a blob moved to another row fails to open.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, generateKeyPair, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { AppError, Status, invalidArgument } from '../../../lib/errors.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEK_BYTES = 32;

/** The public half as published in the JWKS (without kid/use/alg). */
export interface RsaPublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
}

export interface GeneratedKey {
  /** The JWT `kid`: 16 random bytes, base64url. */
  keyId: string;
  privateKey: KeyObject;
  publicJwk: RsaPublicJwk;
  /** The sealed private key for the `key` column. */
  sealed: Buffer;
}

/** Throws unless `kek` is 32 bytes. The message never contains the key. */
export function assertKek(kek: Buffer): void {
  if (!Buffer.isBuffer(kek) || kek.length !== KEK_BYTES) {
    throw invalidArgument('keyEncryptionKey', `must be ${KEK_BYTES} bytes`);
  }
}

export function sealPrivateKey(pem: string, kek: Buffer, keyId: string): Buffer {
  assertKek(kek);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(keyId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

/** Opens a sealed private key; a wrong KEK (or a tampered blob) is an INTERNAL AppError. */
export function openPrivateKey(sealed: Buffer, kek: Buffer, keyId: string): string {
  assertKek(kek);
  if (sealed.length <= IV_BYTES + TAG_BYTES) {
    throw new AppError(Status.INTERNAL, `signing key ${keyId}: stored key is truncated`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(keyId, 'utf8'));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new AppError(
      Status.INTERNAL,
      `signing key ${keyId} cannot be decrypted: wrong key-encryption key or corrupted key`,
      { cause },
    );
  }
}

/** Opens a sealed key and parses it. */
export function loadPrivateKey(sealed: Buffer, kek: Buffer, keyId: string): KeyObject {
  return createPrivateKey({ key: openPrivateKey(sealed, kek, keyId), format: 'pem' });
}

/** A fresh RSA-2048 key pair (generated off the event loop), sealed under `kek`. */
export async function generateSigningKey(kek: Buffer): Promise<GeneratedKey> {
  assertKek(kek);
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const keyId = randomBytes(16).toString('base64url');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new AppError(Status.INTERNAL, 'generated key is not an RSA key');
  }
  return { keyId, privateKey, publicJwk: { kty: 'RSA', n: jwk.n, e: jwk.e }, sealed: sealPrivateKey(pem, kek, keyId) };
}
