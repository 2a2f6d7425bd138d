/**
 * `npm run seed` loads the original project's sample data into a running
 * cluster through the public API, and running it again changes nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { REPO_DIR, useCluster } from '../harness/cluster.js';
import { http } from '../support/clients.js';
import { loginHttp } from '../support/school.js';

describe('npm run seed', () => {
  const env = useCluster();

  function seed(): ReturnType<typeof spawnSync> {
    return spawnSync('npm', ['run', '--silent', 'seed'], {
      cwd: REPO_DIR,
      encoding: 'utf8',
      env: { ...process.env, REGISTRAR_USERNAME: env.cluster.registrar.username, REGISTRAR_PASSWORD: env.cluster.registrar.password, SEED_PASSWORD: 'seeded-password' },
    });
  }

  test('loads departments, courses, sections, users, enrollments and waitlists; a second run adds nothing', async () => {
    const first = seed();
    assert.equal(first.status, 0, `${first.stdout}${first.stderr}`);
    const token = await loginHttp(env.cluster.registrar);
    const departments = (await http('GET', '/departments', { token })).body.departments.map((d: { name: string }) => d.name);
    assert.deepEqual(departments.sort(), ['Computer Science', 'Mathematics']);
    const courses = (await http('GET', '/courses', { token })).body.courses.map((c: { code: string }) => c.code);
    assert.deepEqual(courses.sort(), ['CPSC 449', 'MATH 150A']);
    const sections = (await http('GET', '/sections', { token })).body.sections as Array<{ id: number; enrolled_count: number; waitlist_count: number; capacity: number }>;
    assert.equal(sections.length, 4);
    assert.ok(sections.every((s) => s.enrolled_count >= 1 && s.enrolled_count <= s.capacity));
    assert.ok(sections.some((s) => s.waitlist_count > 0), 'the seed has waitlists');

    // A seeded student logs in with the seed password and sees their own enrollments.
    const dave = await loginHttp({ username: 'dave', password: 'seeded-password' });
    const me = await http('GET', '/me', { token: dave });
    const mine = await http('GET', `/users/${me.body.user_id}/enrollments?status=enrolled`, { token: dave });
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.body.enrollments.length, 1);

    const second = seed();
    assert.equal(second.status, 0, `${second.stdout}${second.stderr}`);
    assert.match(String(second.stdout), /0 users registered now/);
    const again = (await http('GET', '/sections', { token })).body.sections as Array<{ enrolled_count: number }>;
    assert.deepEqual(again.map((s) => s.enrolled_count), sections.map((s) => s.enrolled_count));
  });
});
