/** Store rows to API messages (the generated proto types). */
import type { Course__Output } from '../../../gen/ts/enroll/v1/Course.js';
import type { Department__Output } from '../../../gen/ts/enroll/v1/Department.js';
import type { Enrollment__Output } from '../../../gen/ts/enroll/v1/Enrollment.js';
import type { Section__Output } from '../../../gen/ts/enroll/v1/Section.js';
import type { User__Output } from '../../../gen/ts/enroll/v1/User.js';
import type { WaitlistEntry__Output } from '../../../gen/ts/enroll/v1/WaitlistEntry.js';
import type { SectionView } from './validate.js';
import type { CourseRow, DepartmentRow, EnrollmentRow, SectionRow, UserRow, WaitlistRow } from '../store/rows.js';

export const toDepartment = (r: DepartmentRow): Department__Output => ({ id: r.id, name: r.name });

export const toCourse = (r: CourseRow): Course__Output => ({
  id: r.id,
  code: r.code,
  name: r.name,
  department_id: r.department_id,
  department_name: r.department_name,
  credits: r.credits,
});

/** "First Last", or the username when the user gave no names. */
export function personName(first: string, last: string, username: string): string {
  return `${first} ${last}`.trim() || username;
}

/** A section as the API answers it; the "full" view adds its course, department and instructor. */
export function toSection(r: SectionRow, view: SectionView = 'full'): Section__Output {
  const basic: Section__Output = {
    id: r.id,
    course_id: r.course_id,
    course_code: r.course_code,
    classroom: r.classroom,
    capacity: r.capacity,
    waitlist_capacity: r.waitlist_capacity,
    day: r.day,
    begin_time: r.begin_time,
    end_time: r.end_time,
    instructor_id: r.instructor_id,
    frozen: r.frozen === 1,
    deleted: r.deleted === 1,
    enrolled_count: r.enrolled_count,
    waitlist_count: r.waitlist_count,
  };
  if (view === 'basic') return basic;
  return {
    ...basic,
    course_name: r.course_name,
    course_credits: r.course_credits,
    department_id: r.department_id,
    department_name: r.department_name,
    instructor_username: r.instructor_username,
    instructor_name: personName(r.instructor_first_name, r.instructor_last_name, r.instructor_username),
  };
}

export const toEnrollment = (r: EnrollmentRow): Enrollment__Output => ({
  user_id: r.user_id,
  section_id: r.section_id,
  status: r.status,
  grade: r.grade ?? '',
  date: r.date,
  username: r.username,
  course_id: r.course_id,
  course_code: r.course_code,
});

export const toWaitlistEntry = (r: WaitlistRow): WaitlistEntry__Output => ({
  user_id: r.user_id,
  section_id: r.section_id,
  position: r.position,
  date: r.date,
  username: r.username,
  replacing_section_id: r.replacing_section_id ?? 0,
});

export const toUser = (r: UserRow): User__Output => ({
  id: r.id,
  username: r.username,
  first_name: r.first_name,
  last_name: r.last_name,
  roles: parseRoles(r.roles),
});

/** The roles column is a JSON array (enforced by a CHECK); anything else reads as no roles. */
export function parseRoles(json: string): string[] {
  const roles: unknown = JSON.parse(json);
  return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
}
