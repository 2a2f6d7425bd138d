/**
 * The enrollment service's RPCs: each is a read or a write and hands the
 * verified caller and the request to the domain. Every method needs a valid
 * bearer token; roles and ownership are checked in the domain (and roles
 * once more by Envoy before the call gets here).
 */
import type { CallContext, MethodImpl } from '../../lib/grpc/handler.js';
import { read, write } from '../../lib/grpc/handler.js';
import type { Actor, EnrollDomain } from './domain/enroll-domain.js';

type DomainCall = (actor: Actor, req: any) => Promise<unknown>;

function asCaller(call: DomainCall) {
  return async (ctx: CallContext, req: unknown) => call(await ctx.identity(), req);
}

export function enrollServiceHandlers(domain: EnrollDomain): Record<string, MethodImpl> {
  const r = (call: DomainCall) => read(asCaller(call.bind(domain)));
  const w = (call: DomainCall) => write(asCaller(call.bind(domain)));
  return {
    // catalogue
    ListDepartments: r(domain.listDepartments),
    CreateDepartment: w(domain.createDepartment),
    GetDepartment: r(domain.getDepartment),
    UpdateDepartment: w(domain.updateDepartment),
    DeleteDepartment: w(domain.deleteDepartment),
    ListCourses: r(domain.listCourses),
    CreateCourse: w(domain.createCourse),
    GetCourse: r(domain.getCourse),
    UpdateCourse: w(domain.updateCourse),
    DeleteCourse: w(domain.deleteCourse),
    ListCoursePrerequisites: r(domain.listCoursePrerequisites),
    SetCoursePrerequisites: w(domain.setCoursePrerequisites),
    ListCourseWaitlist: r(domain.listCourseWaitlist),
    // sections
    ListSections: r(domain.listSections),
    CreateSection: w(domain.createSection),
    GetSection: r(domain.getSection),
    UpdateSection: w(domain.updateSection),
    DeleteSection: w(domain.deleteSection),
    ListSectionEnrollments: r(domain.listSectionEnrollments),
    ListSectionEnrollmentEvents: r(domain.listSectionEnrollmentEvents),
    ListSectionWaitlist: r(domain.listSectionWaitlist),
    DropSectionEnrollment: w(domain.dropSectionEnrollment),
    SetEnrollmentGrade: w(domain.setEnrollmentGrade),
    // users
    ListUsers: r(domain.listUsers),
    GetUser: r(domain.getUser),
    ListUserEnrollments: r(domain.listUserEnrollments),
    ListUserEnrollmentEvents: r(domain.listUserEnrollmentEvents),
    GetUserTranscript: r(domain.getUserTranscript),
    CreateEnrollment: w(domain.createEnrollment),
    DropUserEnrollment: w(domain.dropUserEnrollment),
    ListUserSections: r(domain.listUserSections),
    ListUserWaitlist: r(domain.listUserWaitlist),
    DropUserWaitlist: w(domain.dropUserWaitlist),
    // registration holds
    ListUserHolds: r(domain.listUserHolds),
    CreateUserHold: w(domain.createUserHold),
    DeleteUserHold: w(domain.deleteUserHold),
    // registration period
    GetRegistrationPeriod: r(domain.getRegistrationPeriod),
    SetRegistrationPeriod: w(domain.setRegistrationPeriod),
  };
}
