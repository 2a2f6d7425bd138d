/** Request field checks. Each failure is INVALID_ARGUMENT naming the field. */
import { invalidArgument } from '../../../lib/errors.js';
import { CONTROL_CHARACTERS_REFUSED, hasControlCharacters } from '../../../lib/text.js';
import type { EnrollmentStatus } from '../store/rows.js';

export const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;

export const LIMITS = {
  departmentName: 100,
  courseCode: 20,
  courseName: 200,
  classroom: 50,
  capacity: { min: 1, max: 10_000 },
  waitlistCapacity: { min: 0, max: 1000 },
  prerequisitesPerCourse: 10,
  credits: { min: 0, max: 12 },
} as const;

export const DEFAULT_WAITLIST_CAPACITY = 15;
export const DEFAULT_CREDITS = 3;

/** Whether an optional field of a request was sent. */
export const present = <T>(v: T | undefined | null): v is T => v !== undefined && v !== null;

/** A required id: a positive integer. */
export function requireId(field: string, value: number | undefined | null): number {
  if (value === undefined || value === null || !Number.isInteger(value) || value <= 0) {
    throw invalidArgument(field, 'must be a positive integer');
  }
  return value;
}

/** Ids, each a positive integer, listed twice or not; at most `max` different ones, returned once each in the order first given. */
export function requireIds(field: string, values: readonly number[] | undefined | null, max: number): number[] {
  const ids = [...new Set(values ?? [])];
  if (ids.some((v) => !Number.isInteger(v) || v <= 0)) throw invalidArgument(field, 'must be positive integers');
  if (ids.length > max) throw invalidArgument(field, `must list at most ${max} different ids`);
  return ids;
}

/** An optional id filter: 0 or absent means none. */
export function optionalId(field: string, value: number | undefined | null): number | null {
  if (value === undefined || value === null || value === 0) return null;
  return requireId(field, value);
}

/** Trimmed, non-empty, at most `max` characters, one line of text without control characters. */
export function requireText(field: string, value: string | undefined | null, max: number): string {
  const text = (value ?? '').trim();
  if (text === '') throw invalidArgument(field, 'must not be empty');
  if (text.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  if (hasControlCharacters(text)) throw invalidArgument(field, CONTROL_CHARACTERS_REFUSED);
  return text;
}

export function requireIntIn(field: string, value: number | undefined | null, range: { min: number; max: number }): number {
  if (value === undefined || value === null || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw invalidArgument(field, `must be an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

/** `ms` since the epoch as RFC 3339 in UTC, to the second: text order is time order. */
export function utcSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/** Whether the parts of a TIMESTAMP match name a real date and time (Date.parse rolls 30 February over into March). */
function realTime([, y, mo, d, h, mi, sec = '0', oh = '0', om = '0']: RegExpExecArray): boolean {
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  const calendar = day.getUTCFullYear() === Number(y) && day.getUTCMonth() === Number(mo) - 1 && day.getUTCDate() === Number(d);
  return calendar && Number(h) <= 23 && Number(mi) <= 59 && Number(sec) <= 59 && Number(oh) <= 23 && Number(om) <= 59;
}

/**
 * An optional RFC 3339 time with a zone ("2027-01-10T08:00:00-08:00", "…Z"),
 * returned in UTC to the second; empty or absent means none (null).
 */
export function optionalTimestamp(field: string, value: string | undefined | null): string | null {
  const text = (value ?? '').trim();
  if (text === '') return null;
  const parts = TIMESTAMP.exec(text);
  if (!parts || !realTime(parts)) {
    throw invalidArgument(field, 'must be an RFC 3339 time with a zone, such as 2027-01-10T08:00:00Z, or empty');
  }
  return utcSeconds(Date.parse(text));
}

/** A weekday in any case, returned capitalised ("monday" → "Monday"). */
export function requireDay(field: string, value: string | undefined | null): string {
  const lower = (value ?? '').trim().toLowerCase();
  const day = DAYS.find((d) => d.toLowerCase() === lower);
  if (!day) throw invalidArgument(field, `must be one of ${DAYS.join(', ')}`);
  return day;
}

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** "HH:MM", 24-hour clock, zero-padded (so that text order is time order). */
export function requireTime(field: string, value: string | undefined | null): string {
  const time = (value ?? '').trim();
  if (!TIME.test(time)) throw invalidArgument(field, 'must be HH:MM (24-hour)');
  return time;
}

/** The grades an enrollment can have, as stored and answered. */
export const GRADES = ['A+', 'A', 'A-', 'B+', 'B', 'B-', 'C+', 'C', 'C-', 'D+', 'D', 'D-', 'F', 'P', 'NP', 'I'] as const;

/** The grades that do not pass a course: fail, no pass, incomplete. */
export const NOT_PASSING_GRADES: readonly string[] = ['F', 'NP', 'I'];

/** A grade in any case, returned in capitals ("b+" → "B+"); empty means none (null). */
export function gradeValue(field: string, value: string | undefined | null): string | null {
  const upper = (value ?? '').trim().toUpperCase();
  if (upper === '') return null;
  const grade = GRADES.find((g) => g === upper);
  if (!grade) throw invalidArgument(field, `must be one of ${GRADES.join(', ')}, or empty to clear it`);
  return grade;
}

/** The optional enrollment status filter: '' means both. */
export function statusFilter(value: string | undefined | null): EnrollmentStatus | null {
  if (value === undefined || value === null || value === '') return null;
  if (value === 'enrolled' || value === 'dropped') return value;
  throw invalidArgument('status', 'must be "enrolled", "dropped" or empty');
}

/** At most this many words in a search, each at most `LIMITS.courseName` characters. */
export const MAX_SEARCH_WORDS = 5;

/** An optional search: its words, lower-case (A-Z folded), none when empty. */
export function searchWords(field: string, value: string | undefined | null): string[] {
  const words = (value ?? '').trim().split(/\s+/).filter((w) => w !== '');
  if (words.length > MAX_SEARCH_WORDS) throw invalidArgument(field, `must have at most ${MAX_SEARCH_WORDS} words`);
  if (words.some((w) => w.length > LIMITS.courseName)) throw invalidArgument(field, `words must be at most ${LIMITS.courseName} characters`);
  return words.map((w) => w.replace(/[A-Z]/g, (c) => c.toLowerCase()));
}

/** The optional availability filter of the catalogue: '' means any section. */
export function availabilityFilter(value: string | undefined | null): 'seats' | 'open' | null {
  if (value === undefined || value === null || value === '') return null;
  if (value === 'seats' || value === 'open') return value;
  throw invalidArgument('availability', 'must be "seats", "open" or empty');
}

/** How much of a section a read returns: "basic" or "full"; empty means `fallback`. */
export type SectionView = 'basic' | 'full';

export function sectionView(value: string | undefined | null, fallback: SectionView): SectionView {
  if (value === undefined || value === null || value === '') return fallback;
  if (value !== 'basic' && value !== 'full') throw invalidArgument('view', 'must be "basic" or "full"');
  return value;
}
