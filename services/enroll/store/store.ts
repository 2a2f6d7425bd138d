/**
 * The enrollment store: every statement prepared once per connection, exposed
 * as plain synchronous closures. No business rules here; the domain decides.
 */
import type Database from 'better-sqlite3';
import { catalogueStatements } from './catalogue.js';
import { enrollmentStatements } from './enrollments.js';
import { eventStatements } from './events.js';
import { holdStatements } from './holds.js';
import { prerequisiteStatements } from './prerequisites.js';
import { registrationStatements } from './registration.js';
import { sectionStatements } from './sections.js';
import { userStatements } from './users.js';
import { waitlistStatements } from './waitlist.js';

export type * from './rows.js';

/** Prepares the statements on `db` (which must already be migrated). */
export function createEnrollStore(db: Database.Database) {
  return {
    users: userStatements(db),
    catalogue: catalogueStatements(db),
    prerequisites: prerequisiteStatements(db),
    sections: sectionStatements(db),
    enrollments: enrollmentStatements(db),
    waitlist: waitlistStatements(db),
    registration: registrationStatements(db),
    events: eventStatements(db),
    holds: holdStatements(db),
  };
}

export type EnrollStore = ReturnType<typeof createEnrollStore>;
