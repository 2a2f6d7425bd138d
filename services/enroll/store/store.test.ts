import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { ENROLL_MIGRATIONS } from './migrations.js';
import { createEnrollStore } from './store.js';

function migrated() {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  for (const [i, sql] of ENROLL_MIGRATIONS.entries()) {
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${i + 1}`);
    }).immediate();
  }
  db.exec(`
    INSERT INTO users (id, username, roles) VALUES (1, 'ian', '["instructor"]');
    INSERT INTO departments (name) VALUES ('CS');
    INSERT INTO courses (code, name, department_id) VALUES ('CPSC 449', 'Web', 1);
    INSERT INTO courses (code, name, department_id) VALUES ('CPSC 450', 'Systems', 1);
  `);
  for (let id = 10; id < 20; id++) db.prepare(`INSERT INTO users (id, username) VALUES (?, ?)`).run(id, `s${id}`);
  const store = createEnrollStore(db);
  const section = store.sections.insertSection({
    course_id: 1,
    classroom: 'CS102',
    capacity: 2,
    waitlist_capacity: 15,
    day: 'Monday',
    begin_time: '09:00',
    end_time: '10:00',
    instructor_id: 1,
  });
  return { db, store, section };
}

test('migrations apply cleanly and set the schema version', () => {
  const { db } = migrated();
  assert.equal(db.pragma('user_version', { simple: true }), ENROLL_MIGRATIONS.length);
  const tables = db.prepare<[], { name: string }>(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all();
  assert.deepEqual(tables.map((t) => t.name), ['course_prerequisites', 'courses', 'departments', 'enrollment_events', 'enrollments', 'idempotency_keys', 'registration_holds', 'registration_period', 'sections', 'user_event_sections', 'user_sync', 'users', 'waitlist']);
});

test('CHECK constraints refuse invalid rows', () => {
  const { db, section } = migrated();
  const insert = (day: string, begin: string, end: string, capacity = 5, waitlist = 15) =>
    db
      .prepare(
        `INSERT INTO sections (course_id, classroom, capacity, waitlist_capacity, day, begin_time, end_time, instructor_id)
         VALUES (1, 'A', ?, ?, ?, ?, ?, 1)`,
      )
      .run(capacity, waitlist, day, begin, end);
  assert.throws(() => insert('monday', '09:00', '10:00'), /CHECK/);
  assert.throws(() => insert('Monday', '10:00', '09:00'), /CHECK/);
  assert.throws(() => insert('Monday', '9:00', '10:00'), /CHECK/);
  assert.throws(() => insert('Monday', '09:00', '24:30'), /CHECK/);
  assert.throws(() => insert('Monday', '09:00', '10:00', 0), /CHECK/);
  assert.throws(() => insert('Monday', '09:00', '10:00', 5, 1001), /CHECK/);
  assert.doesNotThrow(() => insert('Monday', '09:00', '10:00'));
  assert.throws(() => db.prepare(`INSERT INTO enrollments (user_id, section_id, status) VALUES (10, ?, 'waitlisted')`).run(section), /CHECK/);
  assert.throws(() => db.prepare(`INSERT INTO users (id, username, roles) VALUES (30, 'x', '"student"')`).run(), /CHECK/);
  assert.throws(() => db.prepare(`INSERT INTO waitlist (user_id, section_id, position) VALUES (10, ?, 0)`).run(section), /CHECK/);
  // A hold is released by someone at some time, or neither.
  assert.throws(() => db.prepare(`INSERT INTO registration_holds (user_id, reason, placed_by, placed_at, released_by) VALUES (10, 'fees', 1, '2027-01-01T00:00:00Z', 1)`).run(), /CHECK/);
  // An idempotency key is 1 to 255 characters.
  const key = (k: string, digest: Buffer) => db.prepare(`INSERT INTO idempotency_keys (owner_id, key, request_sha256, result, created_ms) VALUES (1, ?, ?, x'00', 0)`).run(k, digest);
  assert.throws(() => key('', Buffer.alloc(32)), /CHECK/);
  assert.throws(() => key('k', Buffer.alloc(31)), /CHECK/, 'a digest is a SHA-256');
  // STRICT: a text where an integer belongs is refused rather than stored.
  assert.throws(() => insert('Monday', '09:00', '10:00', 'many' as unknown as number), /cannot store TEXT/);
  // Foreign keys: an enrollment of an unknown user.
  assert.throws(() => db.prepare(`INSERT INTO enrollments (user_id, section_id, status) VALUES (999, ?, 'enrolled')`).run(section), /FOREIGN KEY/);
});

test('removing from a waitlist closes the gap under UNIQUE (section_id, position)', () => {
  const { store, section } = migrated();
  // Join in descending user id order: SQLite then visits rows in an order in
  // which a naive "position = position - 1" collides with a neighbour.
  for (let id = 19; id >= 10; id--) assert.equal(store.waitlist.append(id, section, false), 20 - id);
  assert.equal(store.waitlist.remove(16, section), true);
  assert.equal(store.waitlist.remove(19, section), true);
  assert.equal(store.waitlist.remove(10, section), true);
  assert.equal(store.waitlist.remove(10, section), false);
  const order = store.waitlist.sectionWaitlistInOrder(section).map((e) => [e.user_id, e.position]);
  assert.deepEqual(order, [[18, 1], [17, 2], [15, 3], [14, 4], [13, 5], [12, 6], [11, 7]]);
  assert.equal(store.waitlist.append(10, section, false), 8);
});

test('a dropped enrollment is re-activated in place; the conflict query ignores it', () => {
  const { store, section } = migrated();
  const other = store.sections.insertSection({
    course_id: 2,
    classroom: 'B',
    capacity: 2,
    waitlist_capacity: 0,
    day: 'Monday',
    begin_time: '09:59',
    end_time: '11:00',
    instructor_id: 1,
  });
  store.enrollments.enroll(10, section);
  assert.equal(store.sections.findConflict(10, other), section);
  assert.equal(store.enrollments.drop(10, section), true);
  assert.equal(store.enrollments.drop(10, section), false);
  assert.equal(store.sections.findConflict(10, other), undefined);
  store.enrollments.enroll(10, section);
  assert.equal(store.enrollments.getEnrollment(10, section)?.status, 'enrolled');
  assert.equal(store.sections.getSection(section)?.enrolled_count, 1);
});

test('a section of the course a student takes is where they take it, not a conflict; a graded or dropped one is neither', () => {
  const { store, section } = migrated();
  const meeting = (course_id: number) => ({ course_id, classroom: `C${course_id}`, capacity: 2, waitlist_capacity: 0, day: 'Monday', begin_time: '09:30', end_time: '10:30', instructor_id: 1 });
  const sameCourse = store.sections.insertSection(meeting(1));
  store.enrollments.enroll(10, section);
  assert.equal(store.sections.findConflict(10, sameCourse), undefined);
  assert.equal(store.enrollments.otherSeatInCourse(10, 1, sameCourse), section);
  assert.equal(store.enrollments.otherSeatInCourse(10, 1, section), undefined, 'the section itself is not another');
  assert.equal(store.enrollments.otherSeatInCourse(10, 2, sameCourse), undefined, 'another course');
  store.enrollments.setGrade(10, section, 'A');
  assert.equal(store.enrollments.otherSeatInCourse(10, 1, sameCourse), undefined, 'graded: taken, not taking');
  store.enrollments.setGrade(10, section, null);
  store.enrollments.drop(10, section);
  assert.equal(store.enrollments.otherSeatInCourse(10, 1, sameCourse), undefined, 'dropped');
});

/** The counts as the rows say, to hold the triggers' columns against. */
function counted(db: Database.Database, sectionId: number): { enrolled_count: number; waitlist_count: number } {
  return db
    .prepare<[number, number], { enrolled_count: number; waitlist_count: number }>(
      `SELECT (SELECT count(*) FROM enrollments WHERE section_id = ? AND status = 'enrolled') AS enrolled_count,
              (SELECT count(*) FROM waitlist WHERE section_id = ?) AS waitlist_count`,
    )
    .get(sectionId, sectionId)!;
}

test("a section's counts follow every change to its enrollments and waitlist", () => {
  const { db, store, section } = migrated();
  const other = store.sections.insertSection({
    course_id: 1, classroom: 'CS103', capacity: 5, waitlist_capacity: 5, day: 'Tuesday', begin_time: '09:00', end_time: '10:00', instructor_id: 1,
  });
  // A fixed pseudo-random walk over every kind of change the store makes.
  let seed = 7;
  const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let step = 0; step < 400; step++) {
    const user = 10 + next(10);
    const sid = next(2) === 0 ? section : other;
    switch (next(6)) {
      case 0: store.enrollments.enroll(user, sid); break; // new row, or re-activates a dropped one
      case 1: store.enrollments.drop(user, sid); break;
      case 2: if (!store.waitlist.getWaitlistEntry(user, sid)) store.waitlist.append(user, sid, false); break;
      case 3: store.waitlist.remove(user, sid); break;
      case 4: if (next(10) === 0) store.enrollments.dropAllInSection(sid); break;
      case 5: if (next(10) === 0) store.waitlist.clearSection(sid); break;
    }
    for (const id of [section, other]) {
      const row = store.sections.getSection(id)!;
      assert.deepEqual({ enrolled_count: row.enrolled_count, waitlist_count: row.waitlist_count }, counted(db, id), `section ${id} after step ${step}`);
    }
  }
  // The walk did reach both states with people in them.
  assert.ok(counted(db, section).enrolled_count + counted(db, other).enrolled_count > 0);
});

test('migration 2 fills in the counts of sections that already had students', () => {
  const db = new Database(':memory:');
  db.exec(ENROLL_MIGRATIONS[0]!);
  db.exec(`
    INSERT INTO users (id, username) VALUES (1, 'ian'), (10, 'a'), (11, 'b'), (12, 'c');
    INSERT INTO departments (name) VALUES ('CS');
    INSERT INTO courses (code, name, department_id) VALUES ('CPSC 449', 'Web', 1);
    INSERT INTO sections (course_id, classroom, capacity, day, begin_time, end_time, instructor_id)
      VALUES (1, 'CS102', 1, 'Monday', '09:00', '10:00', 1);
    INSERT INTO enrollments (user_id, section_id, status) VALUES (10, 1, 'enrolled'), (11, 1, 'dropped');
    INSERT INTO waitlist (user_id, section_id, position) VALUES (11, 1, 1), (12, 1, 2);
  `);
  for (const sql of ENROLL_MIGRATIONS.slice(1)) db.exec(sql);
  const row = db.prepare('SELECT enrolled_count, waitlist_count FROM sections WHERE id = 1').get();
  assert.deepEqual({ ...(row as object) }, { enrolled_count: 1, waitlist_count: 2 });
});
