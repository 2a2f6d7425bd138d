import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isolateEnv } from '../../test/support/env.js';
import { loadKeyEncryptionKey, registrarCredentials } from './secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'auth-secrets-'));
const registrarFile = join(dir, 'registrar.env');
writeFileSync(registrarFile, 'REGISTRAR_USERNAME=registrar\nREGISTRAR_PASSWORD=3f9a=b1\n');
isolateEnv(['REGISTRAR_USERNAME', 'REGISTRAR_PASSWORD', 'REGISTRAR_FILE', 'AUTH_KEY_ENCRYPTION_KEY', 'AUTH_KEY_ENCRYPTION_KEY_FILE']);
after(() => rmSync(dir, { recursive: true, force: true }));

test('the registrar comes from the file REGISTRAR_FILE names (a value may hold "=")', () => {
  process.env.REGISTRAR_FILE = registrarFile;
  assert.deepEqual(registrarCredentials(), { username: 'registrar', password: '3f9a=b1' });
});

test("the environment's values win, each on its own; the file is not needed when both are set", () => {
  process.env.REGISTRAR_FILE = registrarFile;
  process.env.REGISTRAR_USERNAME = 'dean';
  assert.deepEqual(registrarCredentials(), { username: 'dean', password: '3f9a=b1' });
  process.env.REGISTRAR_PASSWORD = 'from-env';
  process.env.REGISTRAR_FILE = join(dir, 'absent.env');
  assert.deepEqual(registrarCredentials(), { username: 'dean', password: 'from-env' });
});

test('without both a name and a password there is no registrar', () => {
  assert.equal(registrarCredentials(), undefined);
  process.env.REGISTRAR_FILE = join(dir, 'absent.env');
  assert.equal(registrarCredentials(), undefined);
  process.env.REGISTRAR_USERNAME = 'dean';
  assert.equal(registrarCredentials(), undefined);
});

test('the key-encryption key: inline hex, else its file; anything but 64 hex digits is refused', () => {
  const hex = 'ab'.repeat(32);
  process.env.AUTH_KEY_ENCRYPTION_KEY = hex;
  assert.deepEqual(loadKeyEncryptionKey(), Buffer.from(hex, 'hex'));
  delete process.env.AUTH_KEY_ENCRYPTION_KEY;
  const file = join(dir, 'kek.hex');
  writeFileSync(file, `${'cd'.repeat(32)}\n`);
  process.env.AUTH_KEY_ENCRYPTION_KEY_FILE = file;
  assert.deepEqual(loadKeyEncryptionKey(), Buffer.from('cd'.repeat(32), 'hex'));
  process.env.AUTH_KEY_ENCRYPTION_KEY = 'abcd';
  assert.throws(() => loadKeyEncryptionKey(), /32 bytes written as 64 hex digits/);
});
