/** Departments and courses: anyone reads, the registrar creates, changes and deletes them. */
import { alreadyExists, failedPrecondition } from '../../../lib/errors.js';
import type { Course__Output } from '../../../gen/ts/enroll/v1/Course.js';
import type { CreateCourseRequest } from '../../../gen/ts/enroll/v1/CreateCourseRequest.js';
import type { CreateDepartmentRequest } from '../../../gen/ts/enroll/v1/CreateDepartmentRequest.js';
import type { DeleteCourseRequest } from '../../../gen/ts/enroll/v1/DeleteCourseRequest.js';
import type { DeleteDepartmentRequest } from '../../../gen/ts/enroll/v1/DeleteDepartmentRequest.js';
import type { Department__Output } from '../../../gen/ts/enroll/v1/Department.js';
import type { GetCourseRequest } from '../../../gen/ts/enroll/v1/GetCourseRequest.js';
import type { GetDepartmentRequest } from '../../../gen/ts/enroll/v1/GetDepartmentRequest.js';
import type { ListCoursesRequest } from '../../../gen/ts/enroll/v1/ListCoursesRequest.js';
import type { ListCoursesResponse__Output } from '../../../gen/ts/enroll/v1/ListCoursesResponse.js';
import type { ListDepartmentsRequest } from '../../../gen/ts/enroll/v1/ListDepartmentsRequest.js';
import type { ListDepartmentsResponse__Output } from '../../../gen/ts/enroll/v1/ListDepartmentsResponse.js';
import type { UpdateCourseRequest } from '../../../gen/ts/enroll/v1/UpdateCourseRequest.js';
import type { UpdateDepartmentRequest } from '../../../gen/ts/enroll/v1/UpdateDepartmentRequest.js';
import { requireRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { enrollRead, enrollWrite } from './operations.js';
import { toCourse, toDepartment } from './convert.js';
import type { EnrollStore } from '../store/store.js';
import { requireCourse, requireDepartment } from './lookups.js';
import { courseLabel } from './prerequisites.js';
import { MAX_CREDITS_PER_STUDENT } from './credits.js';
import { promoteWaitlistsOf } from './promotion.js';
import { readPage, toPage, type PageCursor } from '../../../lib/pagination.js';
import { DEFAULT_CREDITS, LIMITS, optionalId, present, requireId, requireIntIn, requireText, searchWords } from './validate.js';

/** ALREADY_EXISTS unless no department but `self` (if any) has the name, in any case. */
function requireFreeDepartmentName(store: EnrollStore, name: string, self?: number): void {
  const holder = store.catalogue.getDepartmentByName(name);
  if (holder && holder.id !== self) throw alreadyExists(`department "${name}" already exists`);
}

/** ALREADY_EXISTS unless no course but `self` (if any) has the code, in any case. */
function requireFreeCourseCode(store: EnrollStore, code: string, self?: number): void {
  const holder = store.catalogue.getCourseByCode(code);
  if (holder && holder.id !== self) throw alreadyExists(`course code "${code}" already exists`);
}

export async function listDepartments(
  ctx: DomainContext,
  _actor: Actor,
  req: ListDepartmentsRequest,
): Promise<ListDepartmentsResponse__Output> {
  return ctx.memoQuery(readDepartments, readPage('dept', 1, req));
}

const readDepartments = enrollRead('listDepartments', (store, cursor: PageCursor): ListDepartmentsResponse__Output => {
  const page = toPage(cursor, store.catalogue.listDepartments(cursor.afterId, cursor.limit), (r) => [r.id]);
  return { departments: page.rows.map(toDepartment), next_page_token: page.next_page_token };
});

export async function createDepartment(
  ctx: DomainContext,
  actor: Actor,
  req: CreateDepartmentRequest,
): Promise<Department__Output> {
  requireRegistrar(actor);
  const name = requireText('name', req.name, LIMITS.departmentName);
  return ctx.write(insertDepartment, { name });
}

const insertDepartment = enrollWrite('createDepartment', (store, { name }: { name: string }) => {
  requireFreeDepartmentName(store, name);
  return toDepartment(store.catalogue.getDepartment(store.catalogue.insertDepartment(name))!);
});

export async function getDepartment(
  ctx: DomainContext,
  _actor: Actor,
  req: GetDepartmentRequest,
): Promise<Department__Output> {
  return ctx.query(readDepartment, requireId('department_id', req.department_id));
}

const readDepartment = enrollRead('getDepartment', (store, departmentId: number) =>
  toDepartment(requireDepartment(store, departmentId)),
);

export async function updateDepartment(
  ctx: DomainContext,
  actor: Actor,
  req: UpdateDepartmentRequest,
): Promise<Department__Output> {
  requireRegistrar(actor);
  const departmentId = requireId('department_id', req.department_id);
  const name = requireText('name', req.name, LIMITS.departmentName);
  return ctx.write(renameDepartment, { departmentId, name });
}

const renameDepartment = enrollWrite('updateDepartment', (store, a: { departmentId: number; name: string }) => {
  requireDepartment(store, a.departmentId);
  requireFreeDepartmentName(store, a.name, a.departmentId);
  store.catalogue.renameDepartment(a.departmentId, a.name);
  return toDepartment(requireDepartment(store, a.departmentId));
});

export async function deleteDepartment(
  ctx: DomainContext,
  actor: Actor,
  req: DeleteDepartmentRequest,
): Promise<Department__Output> {
  requireRegistrar(actor);
  return ctx.write(removeDepartment, requireId('department_id', req.department_id));
}

const removeDepartment = enrollWrite('deleteDepartment', (store, departmentId: number) => {
  const department = requireDepartment(store, departmentId);
  if (store.catalogue.departmentHasCourses(departmentId)) {
    throw failedPrecondition(`department ${departmentId} has courses: delete them or move them to another department first`);
  }
  store.catalogue.deleteDepartment(departmentId);
  return toDepartment(department);
});

export async function listCourses(
  ctx: DomainContext,
  _actor: Actor,
  req: ListCoursesRequest,
): Promise<ListCoursesResponse__Output> {
  const departmentId = optionalId('department_id', req.department_id);
  const words = searchWords('query', req.query);
  return ctx.memoQuery(readCourses, { departmentId, words, cursor: readPage('course', 1, req) });
}

const readCourses = enrollRead(
  'listCourses',
  (store, { departmentId, words, cursor }: { departmentId: number | null; words: string[]; cursor: PageCursor }): ListCoursesResponse__Output => {
    const page = toPage(cursor, store.catalogue.listCourses(cursor.afterId, departmentId, words, cursor.limit), (r) => [r.id]);
    return { courses: page.rows.map(toCourse), next_page_token: page.next_page_token };
  },
);

export async function createCourse(ctx: DomainContext, actor: Actor, req: CreateCourseRequest): Promise<Course__Output> {
  requireRegistrar(actor);
  const code = requireText('code', req.code, LIMITS.courseCode);
  const name = requireText('name', req.name, LIMITS.courseName);
  const departmentId = requireId('department_id', req.department_id);
  const credits = present(req.credits) ? requireIntIn('credits', req.credits, LIMITS.credits) : DEFAULT_CREDITS;
  return ctx.write(insertCourse, { code, name, departmentId, credits });
}

const insertCourse = enrollWrite('createCourse', (store, a: { code: string; name: string; departmentId: number; credits: number }) => {
  requireDepartment(store, a.departmentId);
  requireFreeCourseCode(store, a.code);
  const id = store.catalogue.insertCourse({ code: a.code, name: a.name, department_id: a.departmentId, credits: a.credits });
  return toCourse(store.catalogue.getCourse(id)!);
});

export async function getCourse(ctx: DomainContext, _actor: Actor, req: GetCourseRequest): Promise<Course__Output> {
  return ctx.query(readCourse, requireId('course_id', req.course_id));
}

const readCourse = enrollRead('getCourse', (store, courseId: number) => toCourse(requireCourse(store, courseId)));

export async function updateCourse(ctx: DomainContext, actor: Actor, req: UpdateCourseRequest): Promise<Course__Output> {
  requireRegistrar(actor);
  const courseId = requireId('course_id', req.course_id);
  const change: CourseChange = { courseId };
  if (present(req.code)) change.code = requireText('code', req.code, LIMITS.courseCode);
  if (present(req.name)) change.name = requireText('name', req.name, LIMITS.courseName);
  if (present(req.department_id)) change.departmentId = requireId('department_id', req.department_id);
  if (present(req.credits)) change.credits = requireIntIn('credits', req.credits, LIMITS.credits);
  return ctx.write(changeCourse, change);
}

interface CourseChange {
  courseId: number;
  code?: string;
  name?: string;
  departmentId?: number;
  credits?: number;
}

const changeCourse = enrollWrite('updateCourse', (store, c: CourseChange) => {
  const course = requireCourse(store, c.courseId);
  if (c.departmentId !== undefined) requireDepartment(store, c.departmentId);
  if (c.code !== undefined) requireFreeCourseCode(store, c.code, c.courseId);
  const credits = c.credits ?? course.credits;
  // More credits must fit the load of every student taking the course now.
  if (credits > course.credits) {
    const over = store.enrollments.firstOverLoadAt(c.courseId, credits, MAX_CREDITS_PER_STUDENT);
    if (over) {
      throw failedPrecondition(
        `user ${over.user_id} would carry ${over.credits} credits with ${course.code} at ${credits}, past the limit of ${MAX_CREDITS_PER_STUDENT}`,
      );
    }
  }
  store.catalogue.updateCourse(c.courseId, {
    code: c.code ?? course.code,
    name: c.name ?? course.name,
    department_id: c.departmentId ?? course.department_id,
    credits,
  });
  // Fewer credits leave room in the loads of its students, and of those
  // waiting for its sections: every waitlist they are on is walked again.
  if (credits < course.credits) {
    promoteWaitlistsOf(store, store.enrollments.currentStudentsOfCourse(c.courseId), store.sections.liveSectionsOfCourse(c.courseId));
  }
  return toCourse(requireCourse(store, c.courseId));
});

export async function deleteCourse(ctx: DomainContext, actor: Actor, req: DeleteCourseRequest): Promise<Course__Output> {
  requireRegistrar(actor);
  return ctx.write(removeCourse, requireId('course_id', req.course_id));
}

const removeCourse = enrollWrite('deleteCourse', (store, courseId: number) => {
  const course = requireCourse(store, courseId);
  if (store.catalogue.courseHasSections(courseId)) {
    throw failedPrecondition(`course ${courseId} has sections (deleted ones keep their enrollment history): it cannot be deleted`);
  }
  const dependent = store.prerequisites.firstRequiring(courseId);
  if (dependent) {
    throw failedPrecondition(`course ${courseId} is a prerequisite of ${courseLabel(dependent)}: take it off that course's prerequisites first`);
  }
  store.catalogue.deleteCourse(courseId);
  return toCourse(course);
});
