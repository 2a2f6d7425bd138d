/**
 * The enrollment database schema as versioned SQL.
 *
 * `ENROLL_MIGRATIONS[i]` brings the schema to version `i + 1` (tracked in
 * `PRAGMA user_version` by the migration runner, which applies each entry in
 * its own transaction on the LiteFS primary). Entries are append-only: never
 * edit a released one, add a new one.
 */
import { IdempotencyKeysTable } from '../../../lib/idempotency.js';

export const ENROLL_MIGRATIONS: readonly string[] = [
  // 1: the seed's tables, tightened with STRICT typing and CHECK constraints.
  `
  -- A copy of the auth service's users, pulled on demand (see syncUsers).
  -- Same ids as the auth service, so no AUTOINCREMENT: ids are assigned there.
  CREATE TABLE users (
    id         INTEGER PRIMARY KEY CHECK (id > 0),
    username   TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name  TEXT NOT NULL DEFAULT '',
    roles      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles) AND json_type(roles) = 'array')
  ) STRICT;

  CREATE TABLE departments (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 100)
  ) STRICT;

  CREATE TABLE courses (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(code) BETWEEN 1 AND 20),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    department_id INTEGER NOT NULL REFERENCES departments (id)
  ) STRICT;
  CREATE INDEX courses_department ON courses (department_id, id);

  CREATE TABLE sections (
    id                INTEGER PRIMARY KEY,
    course_id         INTEGER NOT NULL REFERENCES courses (id),
    classroom         TEXT NOT NULL CHECK (length(classroom) BETWEEN 1 AND 50),
    capacity          INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
    waitlist_capacity INTEGER NOT NULL DEFAULT 15 CHECK (waitlist_capacity BETWEEN 0 AND 1000),
    day               TEXT NOT NULL CHECK (day IN ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday')),
    -- 'HH:MM' zero-padded, so that text comparison is time comparison.
    begin_time        TEXT NOT NULL CHECK (begin_time GLOB '[0-2][0-9]:[0-5][0-9]' AND begin_time < '24:00'),
    end_time          TEXT NOT NULL CHECK (end_time GLOB '[0-2][0-9]:[0-5][0-9]' AND end_time < '24:00'),
    instructor_id     INTEGER NOT NULL REFERENCES users (id),
    frozen            INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1)),
    deleted           INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    CHECK (begin_time < end_time)
  ) STRICT;
  CREATE INDEX sections_course ON sections (course_id, id);
  CREATE INDEX sections_instructor ON sections (instructor_id, id);

  CREATE TABLE enrollments (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    section_id INTEGER NOT NULL REFERENCES sections (id),
    status     TEXT NOT NULL CHECK (status IN ('enrolled', 'dropped')),
    grade      TEXT,
    -- RFC 3339, UTC.
    date       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (user_id, section_id)
  ) STRICT, WITHOUT ROWID;
  -- Rosters and seat counts per section.
  CREATE INDEX enrollments_section ON enrollments (section_id, status, user_id);

  CREATE TABLE waitlist (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    section_id INTEGER NOT NULL REFERENCES sections (id),
    -- 1..n in order of joining; the store closes gaps (see closeGap).
    position   INTEGER NOT NULL CHECK (position >= 1),
    date       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (user_id, section_id),
    UNIQUE (section_id, position)
  ) STRICT, WITHOUT ROWID;
  `,
  // 2: seat and waitlist counts kept on the section by triggers, so that reading
  // the catalogue no longer counts every section's enrollments: with 50 sections
  // of 64 students, listing them took ~20 times as long with the counts computed.
  // Triggers, not application code, so that no write path can forget them; they
  // run inside the writing transaction, so the counts are exactly as current as
  // the rows they count.
  `
  ALTER TABLE sections ADD COLUMN enrolled_count INTEGER NOT NULL DEFAULT 0 CHECK (enrolled_count >= 0);
  ALTER TABLE sections ADD COLUMN waitlist_count INTEGER NOT NULL DEFAULT 0 CHECK (waitlist_count >= 0);
  UPDATE sections SET
    enrolled_count = (SELECT count(*) FROM enrollments e WHERE e.section_id = sections.id AND e.status = 'enrolled'),
    waitlist_count = (SELECT count(*) FROM waitlist w WHERE w.section_id = sections.id);

  CREATE TRIGGER enrollments_count_insert AFTER INSERT ON enrollments
  WHEN NEW.status = 'enrolled'
  BEGIN
    UPDATE sections SET enrolled_count = enrolled_count + 1 WHERE id = NEW.section_id;
  END;
  CREATE TRIGGER enrollments_count_update AFTER UPDATE OF status, section_id ON enrollments
  WHEN (OLD.status = 'enrolled') <> (NEW.status = 'enrolled') OR OLD.section_id <> NEW.section_id
  BEGIN
    UPDATE sections SET enrolled_count = enrolled_count - 1 WHERE id = OLD.section_id AND OLD.status = 'enrolled';
    UPDATE sections SET enrolled_count = enrolled_count + 1 WHERE id = NEW.section_id AND NEW.status = 'enrolled';
  END;
  CREATE TRIGGER enrollments_count_delete AFTER DELETE ON enrollments
  WHEN OLD.status = 'enrolled'
  BEGIN
    UPDATE sections SET enrolled_count = enrolled_count - 1 WHERE id = OLD.section_id;
  END;

  CREATE TRIGGER waitlist_count_insert AFTER INSERT ON waitlist
  BEGIN
    UPDATE sections SET waitlist_count = waitlist_count + 1 WHERE id = NEW.section_id;
  END;
  CREATE TRIGGER waitlist_count_update AFTER UPDATE OF section_id ON waitlist
  WHEN OLD.section_id <> NEW.section_id
  BEGIN
    UPDATE sections SET waitlist_count = waitlist_count - 1 WHERE id = OLD.section_id;
    UPDATE sections SET waitlist_count = waitlist_count + 1 WHERE id = NEW.section_id;
  END;
  CREATE TRIGGER waitlist_count_delete AFTER DELETE ON waitlist
  BEGIN
    UPDATE sections SET waitlist_count = waitlist_count - 1 WHERE id = OLD.section_id;
  END;
  `,
  // 3: the copy of the users follows changes to them too (roles, names). The
  // auth service numbers them (user_changes.seq); this row keeps how far the
  // copy has applied them.
  `
  CREATE TABLE user_sync (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL CHECK (seq >= 0)
  ) STRICT;
  INSERT INTO user_sync (id, seq) VALUES (1, 0);
  `,
  // 4: prerequisites, course to course. A course's own rows go with it; a
  // course that others require cannot be deleted (the domain refuses first).
  // The second index answers "which courses require this one".
  `
  CREATE TABLE course_prerequisites (
    course_id       INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    prerequisite_id INTEGER NOT NULL REFERENCES courses (id),
    PRIMARY KEY (course_id, prerequisite_id),
    CHECK (course_id <> prerequisite_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX course_prerequisites_required ON course_prerequisites (prerequisite_id, course_id);
  `,
  // 5: credits per course, counted towards a student's load (the courses they
  // are enrolled in and not yet graded in). Courses made before count 3.
  `
  ALTER TABLE courses ADD COLUMN credits INTEGER NOT NULL DEFAULT 3 CHECK (credits BETWEEN 0 AND 12);
  `,
  // 6: when students may add and drop sections: one row, each bound RFC 3339
  // in UTC to the second (so text order is time order), NULL for none.
  `
  CREATE TABLE registration_period (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    opens_at  TEXT CHECK (opens_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'),
    closes_at TEXT CHECK (closes_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'),
    CHECK (opens_at IS NULL OR closes_at IS NULL OR opens_at < closes_at)
  ) STRICT;
  INSERT INTO registration_period (id, opens_at, closes_at) VALUES (1, NULL, NULL);
  `,
  // 7: every change to a student's place in a section, as it was made, and who
  // asked for it (NULL: the service itself, a promotion). Kept, never changed.
  `
  CREATE TABLE enrollment_events (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    section_id INTEGER NOT NULL REFERENCES sections (id),
    action     TEXT NOT NULL CHECK (action IN ('enrolled', 'waitlisted', 'promoted', 'dropped', 'left_waitlist', 'graded', 'grade_cleared')),
    grade      TEXT CHECK ((action = 'graded') = (grade IS NOT NULL)),
    actor_id   INTEGER REFERENCES users (id),
    at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
  ) STRICT;
  CREATE INDEX enrollment_events_user ON enrollment_events (user_id, id);
  CREATE INDEX enrollment_events_section ON enrollment_events (section_id, id);
  `,
  // 8: the events' indexes grow only at their end, so that a batch of writes
  // dirties a page or two of each, not one per student. An index led by the
  // user put each student's new entry on a page of its own: 32 more pages in
  // a commit of 32 writes, which halved the rate of HTTP/JSON writes
  // (bench/HISTORY.md, "Enrollment events"). A student's events are found
  // through the sections they have events in (a row added once per section),
  // each read from the section's index, which carries the user id.
  `
  DROP INDEX enrollment_events_user;
  DROP INDEX enrollment_events_section;
  CREATE INDEX enrollment_events_section ON enrollment_events (section_id, id, user_id);
  CREATE TABLE user_event_sections (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    section_id INTEGER NOT NULL REFERENCES sections (id),
    PRIMARY KEY (user_id, section_id)
  ) STRICT, WITHOUT ROWID;
  INSERT OR IGNORE INTO user_event_sections (user_id, section_id) SELECT user_id, section_id FROM enrollment_events;
  `,
  // 9: whether the registrar waived the prerequisites for a place in line. A
  // promotion checks them again for everyone else: a grade may have changed,
  // or been cleared, since the student joined.
  `
  ALTER TABLE waitlist ADD COLUMN prerequisites_waived INTEGER NOT NULL DEFAULT 0 CHECK (prerequisites_waived IN (0, 1));
  `,
  // 10: registration holds. A student with an active hold (released_at NULL)
  // adds no section themself and is not moved into a seat from a line.
  // Released holds stay, with who released them and when.
  `
  CREATE TABLE registration_holds (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    reason      TEXT NOT NULL,
    placed_by   INTEGER NOT NULL REFERENCES users (id),
    placed_at   TEXT NOT NULL,
    released_by INTEGER REFERENCES users (id),
    released_at TEXT,
    CHECK ((released_by IS NULL) = (released_at IS NULL))
  ) STRICT;
  CREATE INDEX registration_holds_active ON registration_holds (user_id, id) WHERE released_at IS NULL;
  `,
  // 11: idempotency keys: each write a client may send again, with the result
  // it first gave (lib/idempotency.ts).
  IdempotencyKeysTable,
];
