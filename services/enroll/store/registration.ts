import type Database from 'better-sqlite3';
import type { RegistrationPeriodRow } from './rows.js';

/** Statements on the registration period (one row, see migration 6). */
export function registrationStatements(db: Database.Database) {
  const get = db.prepare<[], RegistrationPeriodRow>('SELECT opens_at, closes_at FROM registration_period WHERE id = 1');
  const set = db.prepare<[string | null, string | null]>('UPDATE registration_period SET opens_at = ?, closes_at = ? WHERE id = 1');
  return {
    getPeriod: (): RegistrationPeriodRow => get.get()!,
    setPeriod: (p: RegistrationPeriodRow): void => void set.run(p.opens_at, p.closes_at),
  };
}
