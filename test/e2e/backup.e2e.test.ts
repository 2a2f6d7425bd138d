/**
 * `npm run backup` and `npm run restore` on the real cluster, run the way the
 * README runs them: what a backup holds comes back on every node, what came
 * after it is gone, the cluster goes on taking writes, and a backup that
 * cannot be used is refused before anything changes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { decodeProtectedHeader } from 'jose';
import type { Manifest } from '../../lib/backup.js';
import { generateSigningKey } from '../../services/auth/domain/keys.js';
import { REPO_DIR, useCluster, waitUntil } from '../harness/cluster.js';
import { call, enrollClient, http, uniqueName } from '../support/clients.js';
import { loginHttp } from '../support/school.js';

describe('npm run backup and npm run restore', () => {
  const env = useCluster();

  function npm(args: string[], extraEnv: Record<string, string> = {}): { status: number | null; out: string } {
    const r = spawnSync('npm', ['run', '--silent', ...args], { cwd: REPO_DIR, encoding: 'utf8', env: { ...process.env, CLUSTER_DIR: env.cluster.dir, ...extraEnv } });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  }

  /** Creates a department; its id. */
  async function department(token: string, name: string): Promise<number> {
    const created = await http('POST', '/departments', { token, body: { name } });
    assert.equal(created.status, 200, created.text);
    return created.body.id as number;
  }

  async function register(username: string): Promise<number> {
    const res = await http('POST', '/register', { body: { username, email: `${username}@example.edu`, password: `${username}-password` } });
    return res.status;
  }

  /** The department names node n has once it reached `txid` (straight on its gRPC port). */
  async function departmentsOn(n: 1 | 2 | 3, token: string, txid: string): Promise<string[]> {
    const client = enrollClient(env.cluster.node(n).enrollGrpc);
    try {
      const answer = await call(client, 'ListDepartments', { page_size: 1000 }, { token, metadata: { 'x-min-txid': txid } });
      if (answer.error) throw answer.error;
      return (answer.response.departments as Array<{ name: string }>).map((d) => d.name);
    } finally {
      client.close();
    }
  }

  const dirs = { kept: '', later: '' };

  test('a restore brings back what the backup held on every node and drops what came after; the cluster goes on taking writes', async () => {
    const token = await loginHttp(env.cluster.registrar);
    const kept = uniqueName('Kept');
    await department(token, kept);
    const keeper = uniqueName('keeper');
    assert.equal(await register(keeper), 200);

    dirs.kept = join(env.cluster.dir, 'backups', 'kept');
    const backup = npm(['backup', '--', dirs.kept]);
    assert.equal(backup.status, 0, backup.out);
    assert.match(backup.out, /backup: enroll\.db: \d+ bytes, schema version \d+, sha256 [0-9a-f]{64}/);
    assert.deepEqual(readdirSync(dirs.kept).sort(), ['auth.db', 'enroll.db', 'manifest.json']);

    const lost = uniqueName('Lost');
    const lostId = await department(token, lost);
    const latecomer = uniqueName('latecomer');
    assert.equal(await register(latecomer), 200);

    const restore = npm(['restore', '--', dirs.kept]);
    assert.equal(restore.status, 0, restore.out);
    const txid = /restore: enroll\.db imported, now at TXID (\d+)/.exec(restore.out)?.[1];
    assert.ok(txid, restore.out);
    for (const n of [1, 2, 3] as const) {
      const names = await departmentsOn(n, token, txid);
      assert.ok(names.includes(kept), `node${n} has the department the backup held`);
      assert.ok(!names.includes(lost), `node${n} no longer has the one made after it`);
    }
    // The accounts as the backup had them: the signing keys open, the later user is gone.
    await loginHttp({ username: keeper, password: `${keeper}-password` });
    const gone = await http('POST', '/login', { body: { username: latecomer, password: `${latecomer}-password` } });
    assert.equal(gone.status, 401, gone.text);

    // And it goes on: a new department, and the latecomer's name is free again.
    const after = uniqueName('After');
    assert.equal(await department(token, after), lostId, "the primary's writer reads the imported database: the lost department's id is free again");
    assert.equal(await register(latecomer), 200);
    const listed = (await http('GET', '/departments', { token })).body.departments.map((d: { name: string }) => d.name);
    assert.ok(listed.includes(after) && listed.includes(kept) && !listed.includes(lost), JSON.stringify(listed));
  });

  test('a backup it cannot use is refused before anything changes: a changed file, another key-encryption key, no directory', async () => {
    const token = await loginHttp(env.cluster.registrar);
    dirs.later = join(env.cluster.dir, 'backups', 'later');
    assert.equal(npm(['backup', '--', dirs.later]).status, 0);
    const marker = uniqueName('Marker');
    await department(token, marker);

    const otherKek = npm(['restore', '--', dirs.later], { AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex') });
    assert.equal(otherKek.status, 1, otherKek.out);
    assert.match(otherKek.out, /restore: the cluster's key-encryption key cannot open the backup's signing keys/);

    const file = join(dirs.later, 'enroll.db');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    const changed = npm(['restore', '--', dirs.later]);
    assert.equal(changed.status, 1, changed.out);
    assert.match(changed.out, /restore: .*enroll\.db is not the file the backup made/);

    const none = npm(['restore']);
    assert.equal(none.status, 1, none.out);
    assert.match(none.out, /usage: backup\.js create \[DIR\] \| create --every SECONDS \[--keep N\] \| restore DIR/);
    const missing = npm(['restore', '--', join(env.cluster.dir, 'backups', 'nowhere')]);
    assert.equal(missing.status, 1, missing.out);
    assert.match(missing.out, /holds no manifest\.json/);

    // Nothing was imported: the department made after the backup is still there.
    assert.doesNotMatch(`${otherKek.out}${changed.out}`, /imported/);
    const names = (await http('GET', '/departments', { token })).body.departments.map((d: { name: string }) => d.name);
    assert.ok(names.includes(marker), 'the department made after the refused backup is still there');
  });

  test('tokens signed after a restore pass Envoy even when the backup holds other signing keys, as after a restore into a new cluster', async () => {
    // Envoy keeps the JWKS it fetched and never fetches it again for an unknown key id:
    // a token signed by a key only the backup has would be refused until its cache expires.
    const kek = Buffer.from(readFileSync(join(env.cluster.dir, 'secrets', 'kek.hex'), 'utf8').trim(), 'hex');
    const source = join(env.cluster.dir, 'backups', 'keys-source');
    assert.equal(npm(['backup', '--', source]).status, 0);
    const live = new Database(join(env.cluster.node(1).mount, 'auth.db'), { readonly: true });
    const running = live.prepare('SELECT key_id, sign_from FROM keys WHERE exp > unixepoch() ORDER BY sign_from').all() as Array<{ key_id: string; sign_from: number }>;
    live.close();
    assert.ok(running.length > 0);

    // The same backup with other signing keys: one made now under the cluster's
    // key-encryption key, signing since now, later than the running key began: it would
    // outrank the running key, as a backup from a cluster that rotated later would.
    const dir = join(env.cluster.dir, 'backups', 'other-keys');
    mkdirSync(dir, { mode: 0o700 });
    for (const f of ['enroll.db', 'auth.db', 'manifest.json']) copyFileSync(join(source, f), join(dir, f));
    const other = await generateSigningKey(kek);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(running.every((k) => k.sign_from < now), 'the running keys began signing before now');
    const auth = new Database(join(dir, 'auth.db'));
    auth.exec('DELETE FROM keys');
    auth.prepare('INSERT INTO keys (key, exp, key_id, public_jwk, created_at, sign_from, sign_until) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(other.sealed, now + 7200, other.keyId, JSON.stringify(other.publicJwk), now - 1, now, now + 3600);
    auth.close();
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const bytes = readFileSync(join(dir, 'auth.db'));
    Object.assign(manifest.databases.find((d) => d.name === 'auth.db')!, { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));

    const restore = npm(['restore', '--', dir]);
    assert.equal(restore.status, 0, restore.out);
    assert.match(restore.out, new RegExp(`keeps the running cluster's signing keys \\(${running.length} not in the backup\\)`));
    const token = await loginHttp(env.cluster.registrar);
    assert.ok(running.some((k) => k.key_id === decodeProtectedHeader(token).kid), 'a running key signed the new token');
    const listed = await http('GET', '/departments', { token });
    assert.equal(listed.status, 200, `Envoy takes the new token: ${listed.text}`);
  });

  test('--every backs up on a schedule and keeps the newest --keep; a signal stops it between backups', async () => {
    const root = join(env.cluster.dir, 'backups', 'scheduled');
    mkdirSync(root, { recursive: true, mode: 0o700 });
    // Not the scheduler's: another name, and one without a manifest (still being written).
    mkdirSync(join(root, 'by-hand'));
    mkdirSync(join(root, '2000-01-01T00-00-00-000Z'));
    // What `npm run backup -- --every 1 --keep 2` runs, without npm in between: scripts/backup.sh
    // execs node, so the signal below reaches the scheduler itself (npm dies of it instead).
    const child = spawn('bash', ['scripts/backup.sh', 'create', '--every', '1', '--keep', '2'], {
      cwd: REPO_DIR,
      env: { ...process.env, CLUSTER_DIR: env.cluster.dir, BACKUP_ROOT: root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => void (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => void (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitUntil(() => (out.match(/backup: written to /g) ?? []).length >= 4, 30_000, { what: `four scheduled backups; so far:\n${out}` });
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /backup: stopped/);
    const written = [...out.matchAll(/backup: written to (\S+)/g)].map((m) => m[1]!);
    assert.equal((out.match(/backup: deleted /g) ?? []).length, written.length - 2, out);
    const complete = readdirSync(root).filter((d) => existsSync(join(root, d, 'manifest.json'))).sort();
    assert.deepEqual(complete, written.slice(-2).map((w) => w.slice(root.length + 1)), 'the newest two remain');
    assert.ok(existsSync(join(root, 'by-hand')) && existsSync(join(root, '2000-01-01T00-00-00-000Z')), 'what is not a complete scheduled backup stays');
    // What it kept restores like any backup.
    const restore = npm(['restore', '--', written.at(-1)!]);
    assert.equal(restore.status, 0, restore.out);
  });
});
