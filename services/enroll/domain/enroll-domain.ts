/**
 * The enrollment service's business rules, one async method per RPC of
 * enroll.v1.EnrollService. No transport here: handlers pass the caller and
 * the request message, and get the response message or an AppError.
 *
 * Every read is a named read operation (`enrollRead`) run by `query`, on the
 * node's reader thread; every write does its reading, checking and writing in
 * one named write operation (`enrollWrite`) run by `write`, so rules hold
 * under concurrency (the transaction takes the write lock up front).
 */
import type { Course__Output } from '../../../gen/ts/enroll/v1/Course.js';
import type { CoursePrerequisites__Output } from '../../../gen/ts/enroll/v1/CoursePrerequisites.js';
import type { CreateCourseRequest } from '../../../gen/ts/enroll/v1/CreateCourseRequest.js';
import type { CreateDepartmentRequest } from '../../../gen/ts/enroll/v1/CreateDepartmentRequest.js';
import type { CreateEnrollmentRequest } from '../../../gen/ts/enroll/v1/CreateEnrollmentRequest.js';
import type { CreateEnrollmentResponse__Output } from '../../../gen/ts/enroll/v1/CreateEnrollmentResponse.js';
import type { CreateSectionRequest } from '../../../gen/ts/enroll/v1/CreateSectionRequest.js';
import type { DeleteSectionRequest } from '../../../gen/ts/enroll/v1/DeleteSectionRequest.js';
import type { Department__Output } from '../../../gen/ts/enroll/v1/Department.js';
import type { DropResponse__Output } from '../../../gen/ts/enroll/v1/DropResponse.js';
import type { DropSectionEnrollmentRequest } from '../../../gen/ts/enroll/v1/DropSectionEnrollmentRequest.js';
import type { SetEnrollmentGradeRequest } from '../../../gen/ts/enroll/v1/SetEnrollmentGradeRequest.js';
import type { Enrollment__Output } from '../../../gen/ts/enroll/v1/Enrollment.js';
import type { DropUserEnrollmentRequest } from '../../../gen/ts/enroll/v1/DropUserEnrollmentRequest.js';
import type { DropUserWaitlistRequest } from '../../../gen/ts/enroll/v1/DropUserWaitlistRequest.js';
import type { GetCourseRequest } from '../../../gen/ts/enroll/v1/GetCourseRequest.js';
import type { GetDepartmentRequest } from '../../../gen/ts/enroll/v1/GetDepartmentRequest.js';
import type { DeleteCourseRequest } from '../../../gen/ts/enroll/v1/DeleteCourseRequest.js';
import type { DeleteDepartmentRequest } from '../../../gen/ts/enroll/v1/DeleteDepartmentRequest.js';
import type { UpdateCourseRequest } from '../../../gen/ts/enroll/v1/UpdateCourseRequest.js';
import type { UpdateDepartmentRequest } from '../../../gen/ts/enroll/v1/UpdateDepartmentRequest.js';
import type { GetSectionRequest } from '../../../gen/ts/enroll/v1/GetSectionRequest.js';
import type { GetUserRequest } from '../../../gen/ts/enroll/v1/GetUserRequest.js';
import type { ListCoursePrerequisitesRequest } from '../../../gen/ts/enroll/v1/ListCoursePrerequisitesRequest.js';
import type { SetCoursePrerequisitesRequest } from '../../../gen/ts/enroll/v1/SetCoursePrerequisitesRequest.js';
import type { ListCourseWaitlistRequest } from '../../../gen/ts/enroll/v1/ListCourseWaitlistRequest.js';
import type { ListCoursesRequest } from '../../../gen/ts/enroll/v1/ListCoursesRequest.js';
import type { ListCoursesResponse__Output } from '../../../gen/ts/enroll/v1/ListCoursesResponse.js';
import type { ListDepartmentsRequest } from '../../../gen/ts/enroll/v1/ListDepartmentsRequest.js';
import type { ListDepartmentsResponse__Output } from '../../../gen/ts/enroll/v1/ListDepartmentsResponse.js';
import type { ListEnrollmentsResponse__Output } from '../../../gen/ts/enroll/v1/ListEnrollmentsResponse.js';
import type { ListEnrollmentEventsResponse__Output } from '../../../gen/ts/enroll/v1/ListEnrollmentEventsResponse.js';
import type { ListSectionEnrollmentEventsRequest } from '../../../gen/ts/enroll/v1/ListSectionEnrollmentEventsRequest.js';
import type { ListUserEnrollmentEventsRequest } from '../../../gen/ts/enroll/v1/ListUserEnrollmentEventsRequest.js';
import type { ListSectionEnrollmentsRequest } from '../../../gen/ts/enroll/v1/ListSectionEnrollmentsRequest.js';
import type { ListSectionWaitlistRequest } from '../../../gen/ts/enroll/v1/ListSectionWaitlistRequest.js';
import type { ListSectionsRequest } from '../../../gen/ts/enroll/v1/ListSectionsRequest.js';
import type { ListSectionsResponse__Output } from '../../../gen/ts/enroll/v1/ListSectionsResponse.js';
import type { ListUserEnrollmentsRequest } from '../../../gen/ts/enroll/v1/ListUserEnrollmentsRequest.js';
import type { ListUserSectionsRequest } from '../../../gen/ts/enroll/v1/ListUserSectionsRequest.js';
import type { ListUserWaitlistRequest } from '../../../gen/ts/enroll/v1/ListUserWaitlistRequest.js';
import type { ListUsersRequest } from '../../../gen/ts/enroll/v1/ListUsersRequest.js';
import type { ListUsersResponse__Output } from '../../../gen/ts/enroll/v1/ListUsersResponse.js';
import type { ListWaitlistResponse__Output } from '../../../gen/ts/enroll/v1/ListWaitlistResponse.js';
import type { Section__Output } from '../../../gen/ts/enroll/v1/Section.js';
import type { CreateUserHoldRequest } from '../../../gen/ts/enroll/v1/CreateUserHoldRequest.js';
import type { DeleteUserHoldRequest } from '../../../gen/ts/enroll/v1/DeleteUserHoldRequest.js';
import type { ListUserHoldsRequest } from '../../../gen/ts/enroll/v1/ListUserHoldsRequest.js';
import type { ListUserHoldsResponse__Output } from '../../../gen/ts/enroll/v1/ListUserHoldsResponse.js';
import type { RegistrationHold__Output } from '../../../gen/ts/enroll/v1/RegistrationHold.js';
import type { GetRegistrationPeriodRequest } from '../../../gen/ts/enroll/v1/GetRegistrationPeriodRequest.js';
import type { RegistrationPeriod__Output } from '../../../gen/ts/enroll/v1/RegistrationPeriod.js';
import type { SetRegistrationPeriodRequest } from '../../../gen/ts/enroll/v1/SetRegistrationPeriodRequest.js';
import type { GetUserTranscriptRequest } from '../../../gen/ts/enroll/v1/GetUserTranscriptRequest.js';
import type { Transcript__Output } from '../../../gen/ts/enroll/v1/Transcript.js';
import type { UpdateSectionRequest } from '../../../gen/ts/enroll/v1/UpdateSectionRequest.js';
import type { User__Output } from '../../../gen/ts/enroll/v1/User.js';
import type { ReadMemoStats } from '../../../lib/read-memo.js';
import type { Actor } from './actor.js';
import * as catalogue from './catalogue.js';
import { DomainContext, type EnrollDomainDeps } from './context.js';
import * as enrollments from './enrollments.js';
import * as events from './events.js';
import * as prerequisites from './prerequisites.js';
import * as holds from './holds.js';
import * as registrationPeriod from './registration-period.js';
import * as transcript from './transcript.js';
import * as sections from './sections.js';
import * as users from './users.js';
import * as waitlists from './waitlists.js';

export type { Actor } from './actor.js';
export type { EnrollDomainDeps } from './context.js';
export type { DirectoryUser, UserChange, UserDirectory } from './user-sync.js';

export class EnrollDomain {
  private readonly ctx: DomainContext;

  constructor(deps: EnrollDomainDeps) {
    this.ctx = new DomainContext(deps);
  }

  /**
   * Copies users newer than the newest local one from the directory, in one
   * write. Returns how many were added.
   */
  syncUsers(): Promise<number> {
    return this.ctx.syncUsers();
  }

  /** Applies the directory's changes to users (roles, names) not applied yet, in one write. Returns how many. */
  syncUserChanges(): Promise<number> {
    return this.ctx.syncUserChanges();
  }

  /** How often the catalogue memo answered (hits, and stale: a kept answer while the next was computed) and how often a caller waited for a read (misses); undefined when off. */
  memoStats(): ReadMemoStats | undefined {
    return this.ctx.memoStats();
  }

  // --- catalogue: anyone reads, the registrar creates -----------------------

  listDepartments(actor: Actor, req: ListDepartmentsRequest): Promise<ListDepartmentsResponse__Output> {
    return catalogue.listDepartments(this.ctx, actor, req);
  }
  /** Registrar only. Names are unique, case-insensitively. */
  createDepartment(actor: Actor, req: CreateDepartmentRequest): Promise<Department__Output> {
    return catalogue.createDepartment(this.ctx, actor, req);
  }
  getDepartment(actor: Actor, req: GetDepartmentRequest): Promise<Department__Output> {
    return catalogue.getDepartment(this.ctx, actor, req);
  }
  /** Registrar only: a new name, unique like any. */
  updateDepartment(actor: Actor, req: UpdateDepartmentRequest): Promise<Department__Output> {
    return catalogue.updateDepartment(this.ctx, actor, req);
  }
  /** Registrar only: a department with no courses. */
  deleteDepartment(actor: Actor, req: DeleteDepartmentRequest): Promise<Department__Output> {
    return catalogue.deleteDepartment(this.ctx, actor, req);
  }
  listCourses(actor: Actor, req: ListCoursesRequest): Promise<ListCoursesResponse__Output> {
    return catalogue.listCourses(this.ctx, actor, req);
  }
  /** Registrar only. Codes are unique, case-insensitively. */
  createCourse(actor: Actor, req: CreateCourseRequest): Promise<Course__Output> {
    return catalogue.createCourse(this.ctx, actor, req);
  }
  getCourse(actor: Actor, req: GetCourseRequest): Promise<Course__Output> {
    return catalogue.getCourse(this.ctx, actor, req);
  }
  /** Registrar only: the fields present change; the code stays unique. */
  updateCourse(actor: Actor, req: UpdateCourseRequest): Promise<Course__Output> {
    return catalogue.updateCourse(this.ctx, actor, req);
  }
  /** Registrar only: a course that never had a section. */
  deleteCourse(actor: Actor, req: DeleteCourseRequest): Promise<Course__Output> {
    return catalogue.deleteCourse(this.ctx, actor, req);
  }
  /** The courses to pass first, in code order. */
  listCoursePrerequisites(actor: Actor, req: ListCoursePrerequisitesRequest): Promise<CoursePrerequisites__Output> {
    return prerequisites.listCoursePrerequisites(this.ctx, actor, req);
  }
  /** Registrar only: replaces them; never a circle. */
  setCoursePrerequisites(actor: Actor, req: SetCoursePrerequisitesRequest): Promise<CoursePrerequisites__Output> {
    return prerequisites.setCoursePrerequisites(this.ctx, actor, req);
  }
  /** Registrar: every section's entries; instructor: the sections they teach. */
  listCourseWaitlist(actor: Actor, req: ListCourseWaitlistRequest): Promise<ListWaitlistResponse__Output> {
    return waitlists.listCourseWaitlist(this.ctx, actor, req);
  }

  // --- sections ---------------------------------------------------------------

  listSections(actor: Actor, req: ListSectionsRequest): Promise<ListSectionsResponse__Output> {
    return sections.listSections(this.ctx, actor, req);
  }
  /** Registrar only. */
  createSection(actor: Actor, req: CreateSectionRequest): Promise<Section__Output> {
    return sections.createSection(this.ctx, actor, req);
  }
  /** Deleted sections are NOT_FOUND. */
  getSection(actor: Actor, req: GetSectionRequest): Promise<Section__Output> {
    return sections.getSection(this.ctx, actor, req);
  }
  /** Registrar only. Raising capacity or unfreezing promotes from the waitlist. */
  updateSection(actor: Actor, req: UpdateSectionRequest): Promise<Section__Output> {
    return sections.updateSection(this.ctx, actor, req);
  }
  /** Registrar only. Kept as deleted; students dropped, waitlist cleared. */
  deleteSection(actor: Actor, req: DeleteSectionRequest): Promise<Section__Output> {
    return sections.deleteSection(this.ctx, actor, req);
  }
  /** The section's instructor or the registrar. */
  listSectionEnrollments(actor: Actor, req: ListSectionEnrollmentsRequest): Promise<ListEnrollmentsResponse__Output> {
    return enrollments.listSectionEnrollments(this.ctx, actor, req);
  }
  /** The section's instructor or the registrar: the changes to its seats and waitlist, newest first. */
  listSectionEnrollmentEvents(actor: Actor, req: ListSectionEnrollmentEventsRequest): Promise<ListEnrollmentEventsResponse__Output> {
    return events.listSectionEnrollmentEvents(this.ctx, actor, req);
  }
  /** The section's instructor or the registrar. */
  listSectionWaitlist(actor: Actor, req: ListSectionWaitlistRequest): Promise<ListWaitlistResponse__Output> {
    return waitlists.listSectionWaitlist(this.ctx, actor, req);
  }
  /** The section's instructor or the registrar. Promotes from the waitlist. */
  dropSectionEnrollment(actor: Actor, req: DropSectionEnrollmentRequest): Promise<DropResponse__Output> {
    return enrollments.dropSectionEnrollment(this.ctx, actor, req);
  }
  /** The section's instructor or the registrar. */
  setEnrollmentGrade(actor: Actor, req: SetEnrollmentGradeRequest): Promise<Enrollment__Output> {
    return enrollments.setEnrollmentGrade(this.ctx, actor, req);
  }

  // --- users ------------------------------------------------------------------

  /** Registrar only. */
  listUsers(actor: Actor, req: ListUsersRequest): Promise<ListUsersResponse__Output> {
    return users.listUsers(this.ctx, actor, req);
  }
  /** The user themself or the registrar. */
  getUser(actor: Actor, req: GetUserRequest): Promise<User__Output> {
    return users.getUser(this.ctx, actor, req);
  }
  /** The user themself or the registrar. */
  listUserEnrollments(actor: Actor, req: ListUserEnrollmentsRequest): Promise<ListEnrollmentsResponse__Output> {
    return enrollments.listUserEnrollments(this.ctx, actor, req);
  }
  /** The user themself or the registrar: the changes to their places in sections, newest first. */
  listUserEnrollmentEvents(actor: Actor, req: ListUserEnrollmentEventsRequest): Promise<ListEnrollmentEventsResponse__Output> {
    return events.listUserEnrollmentEvents(this.ctx, actor, req);
  }
  /** The user themself or the registrar: graded courses, credits, grade point average. */
  getUserTranscript(actor: Actor, req: GetUserTranscriptRequest): Promise<Transcript__Output> {
    return transcript.getUserTranscript(this.ctx, actor, req);
  }
  /** A student enrolling themself, or the registrar enrolling a student. */
  createEnrollment(actor: Actor, req: CreateEnrollmentRequest): Promise<CreateEnrollmentResponse__Output> {
    return enrollments.createEnrollment(this.ctx, actor, req);
  }
  /** The user themself or the registrar. Promotes from the waitlist. */
  dropUserEnrollment(actor: Actor, req: DropUserEnrollmentRequest): Promise<DropResponse__Output> {
    return enrollments.dropUserEnrollment(this.ctx, actor, req);
  }
  /** The user themself or the registrar. type "enrolled" (default) or "instructing". */
  listUserSections(actor: Actor, req: ListUserSectionsRequest): Promise<ListSectionsResponse__Output> {
    return users.listUserSections(this.ctx, actor, req);
  }
  /** The user themself or the registrar. */
  listUserWaitlist(actor: Actor, req: ListUserWaitlistRequest): Promise<ListWaitlistResponse__Output> {
    return waitlists.listUserWaitlist(this.ctx, actor, req);
  }
  /** The user themself or the registrar. */
  dropUserWaitlist(actor: Actor, req: DropUserWaitlistRequest): Promise<DropResponse__Output> {
    return waitlists.dropUserWaitlist(this.ctx, actor, req);
  }

  // --- registration holds -----------------------------------------------------

  /** The student themself or the registrar. */
  listUserHolds(actor: Actor, req: ListUserHoldsRequest): Promise<ListUserHoldsResponse__Output> {
    return holds.listUserHolds(this.ctx, actor, req);
  }
  /** Registrar only. */
  createUserHold(actor: Actor, req: CreateUserHoldRequest): Promise<RegistrationHold__Output> {
    return holds.createUserHold(this.ctx, actor, req);
  }
  /** Registrar only; the student's lines are walked again once no hold is left. */
  deleteUserHold(actor: Actor, req: DeleteUserHoldRequest): Promise<RegistrationHold__Output> {
    return holds.deleteUserHold(this.ctx, actor, req);
  }

  // --- registration period ----------------------------------------------------

  /** Anyone signed in. */
  getRegistrationPeriod(actor: Actor, req: GetRegistrationPeriodRequest): Promise<RegistrationPeriod__Output> {
    return registrationPeriod.getRegistrationPeriod(this.ctx, actor, req);
  }
  /** Registrar only: both bounds replaced. */
  setRegistrationPeriod(actor: Actor, req: SetRegistrationPeriodRequest): Promise<RegistrationPeriod__Output> {
    return registrationPeriod.setRegistrationPeriod(this.ctx, actor, req);
  }
}
