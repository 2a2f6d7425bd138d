import type Database from 'better-sqlite3';
import { preparedOnFirstUse } from '../../../lib/sqlite.js';
import type { CourseRow, DepartmentRow } from './rows.js';

/** A course row's columns, from courses `c` joined with departments `d`. */
export const COURSE_COLUMNS = 'c.id, c.code, c.name, c.department_id, d.name AS department_name, c.credits';

const COURSE_SELECT = `
  SELECT ${COURSE_COLUMNS}
  FROM courses c JOIN departments d ON d.id = c.department_id`;

/** Statements on departments and courses. */
export function catalogueStatements(db: Database.Database) {
  const getDept = db.prepare<[number], DepartmentRow>('SELECT id, name FROM departments WHERE id = ?');
  const deptByName = db.prepare<[string], DepartmentRow>('SELECT id, name FROM departments WHERE name = ?');
  const listDepts = db.prepare<[number, number], DepartmentRow>(
    'SELECT id, name FROM departments WHERE id > ? ORDER BY id LIMIT ?',
  );
  const insertDept = db.prepare<[string]>('INSERT INTO departments (name) VALUES (?)');
  const renameDept = db.prepare<[string, number]>('UPDATE departments SET name = ? WHERE id = ?');
  const deptHasCourses = db.prepare<[number], { one: 1 }>('SELECT 1 AS one FROM courses WHERE department_id = ? LIMIT 1');
  const deleteDept = db.prepare<[number]>('DELETE FROM departments WHERE id = ?');
  // Deleted sections count: they keep their enrollments' history.
  const courseHasSections = db.prepare<[number], { one: 1 }>('SELECT 1 AS one FROM sections WHERE course_id = ? LIMIT 1');
  const deleteCourse = db.prepare<[number]>('DELETE FROM courses WHERE id = ?');

  const getCourse = db.prepare<[number], CourseRow>(`${COURSE_SELECT} WHERE c.id = ?`);
  const courseByCode = db.prepare<[string], CourseRow>(`${COURSE_SELECT} WHERE c.code = ?`);
  // A page in id order, with a condition for the department if given and one
  // per search word, on code and name together (lower() folds A-Z only).
  const listQuery = preparedOnFirstUse<CourseRow>(db);
  const insertCourse = db.prepare<[string, string, number, number]>(
    'INSERT INTO courses (code, name, department_id, credits) VALUES (?, ?, ?, ?)',
  );
  const updateCourse = db.prepare<[string, string, number, number, number]>(
    'UPDATE courses SET code = ?, name = ?, department_id = ?, credits = ? WHERE id = ?',
  );

  return {
    getDepartment: (id: number): DepartmentRow | undefined => getDept.get(id),
    /** Case-insensitive (the column is NOCASE). */
    getDepartmentByName: (name: string): DepartmentRow | undefined => deptByName.get(name),
    listDepartments: (afterId: number, limit: number): DepartmentRow[] => listDepts.all(afterId, limit),
    insertDepartment: (name: string): number => Number(insertDept.run(name).lastInsertRowid),
    renameDepartment: (id: number, name: string): void => void renameDept.run(name, id),
    departmentHasCourses: (id: number): boolean => deptHasCourses.get(id) !== undefined,
    deleteDepartment: (id: number): void => void deleteDept.run(id),
    /** Live or deleted. */
    courseHasSections: (id: number): boolean => courseHasSections.get(id) !== undefined,
    deleteCourse: (id: number): void => void deleteCourse.run(id),

    getCourse: (id: number): CourseRow | undefined => getCourse.get(id),
    /** Case-insensitive (the column is NOCASE). */
    getCourseByCode: (code: string): CourseRow | undefined => courseByCode.get(code),
    /** `words` lower-case; a course is listed when each is in its code or name. */
    listCourses: (afterId: number, departmentId: number | null, words: string[], limit: number): CourseRow[] => {
      const params: Record<string, unknown> = { afterId, limit };
      let conditions = '';
      if (departmentId !== null) {
        conditions += ' AND c.department_id = @departmentId';
        params.departmentId = departmentId;
      }
      words.forEach((word, i) => {
        conditions += ` AND instr(lower(c.code || ' ' || c.name), @w${i}) > 0`;
        params[`w${i}`] = word;
      });
      return listQuery(`${COURSE_SELECT} WHERE c.id > @afterId${conditions} ORDER BY c.id LIMIT @limit`).all(params);
    },
    insertCourse: (c: { code: string; name: string; department_id: number; credits: number }): number =>
      Number(insertCourse.run(c.code, c.name, c.department_id, c.credits).lastInsertRowid),
    updateCourse: (id: number, c: { code: string; name: string; department_id: number; credits: number }): void =>
      void updateCourse.run(c.code, c.name, c.department_id, c.credits, id),
  };
}
