/** Row shapes as the store's statements return them (SQLite types, snake_case). */

export interface UserRow {
  id: number;
  username: string;
  first_name: string;
  last_name: string;
  /** JSON array of role names. */
  roles: string;
}

export interface DepartmentRow {
  id: number;
  name: string;
}

/** A course joined with its department's name. */
export interface CourseRow {
  id: number;
  code: string;
  name: string;
  department_id: number;
  department_name: string;
  credits: number;
}

/** A section joined with its course code and its seat and waitlist counts. */
export interface SectionRow {
  id: number;
  course_id: number;
  course_code: string;
  course_name: string;
  course_credits: number;
  department_id: number;
  department_name: string;
  classroom: string;
  capacity: number;
  waitlist_capacity: number;
  day: string;
  begin_time: string;
  end_time: string;
  instructor_id: number;
  instructor_username: string;
  instructor_first_name: string;
  instructor_last_name: string;
  frozen: 0 | 1;
  deleted: 0 | 1;
  enrolled_count: number;
  waitlist_count: number;
}

export type EnrollmentStatus = 'enrolled' | 'dropped';

/** An enrollment joined with the student's username and the section's course. */
export interface EnrollmentRow {
  user_id: number;
  section_id: number;
  status: EnrollmentStatus;
  grade: string | null;
  date: string;
  username: string;
  course_id: number;
  course_code: string;
}

/** A waitlist entry joined with the student's username. */
export interface WaitlistRow {
  user_id: number;
  section_id: number;
  position: number;
  date: string;
  username: string;
  /** Not in listings: 1 when the registrar waived the course's prerequisites for this place. */
  prerequisites_waived?: 0 | 1;
  /** Listings only: the student's section of the same course, which a promotion gives up (0: none). */
  replacing_section_id?: number;
}

/** What the section editor may change; the store writes all of it at once. */
export interface SectionUpdate {
  instructor_id: number;
  capacity: number;
  waitlist_capacity: number;
  classroom: string;
  frozen: 0 | 1;
  day: string;
  begin_time: string;
  end_time: string;
}

/** What creating a section stores; the rest is derived or defaulted. */
export type NewSection = Pick<
  SectionRow,
  'course_id' | 'classroom' | 'capacity' | 'waitlist_capacity' | 'day' | 'begin_time' | 'end_time' | 'instructor_id'
>;

/** Which sections a catalogue listing shows: each field null (any) or the value to match. */
export interface SectionFilter {
  courseId: number | null;
  departmentId: number | null;
  instructorId: number | null;
  /** Capitalised, as stored: "Monday". */
  day: string | null;
  /** "seats": not frozen, a free seat; "open": not frozen, a free seat or waitlist room. */
  availability: 'seats' | 'open' | null;
}

/** A registration hold on a student (migration 10); released_at null while it stands. */
export interface HoldRow {
  id: number;
  user_id: number;
  reason: string;
  placed_by: number;
  placed_at: string;
  released_by: number | null;
  released_at: string | null;
}

/** When students may add and drop sections; null is no bound. */
export interface RegistrationPeriodRow {
  opens_at: string | null;
  closes_at: string | null;
}

/** A graded enrollment with its course, for a transcript. */
export interface TranscriptRow {
  section_id: number;
  course_id: number;
  course_code: string;
  course_name: string;
  credits: number;
  grade: string;
  /** 1 when a later graded attempt at the course repeats this one. */
  repeated: 0 | 1;
}

/** What happened to a student's place in a section (migration 7). */
export type EnrollmentAction = 'enrolled' | 'waitlisted' | 'promoted' | 'dropped' | 'left_waitlist' | 'graded' | 'grade_cleared';

export interface EnrollmentEventRow {
  id: number;
  user_id: number;
  section_id: number;
  action: EnrollmentAction;
  grade: string | null;
  /** NULL: the service itself (a promotion). */
  actor_id: number | null;
  at: string;
}

/** When a section meets: a day and [begin_time, end_time), 'HH:MM'. */
export type MeetingTime = Pick<SectionRow, 'day' | 'begin_time' | 'end_time'>;
