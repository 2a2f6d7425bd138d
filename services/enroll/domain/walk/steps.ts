/**
 * The random walk's steps (invariants.test.ts): each kind of change a step
 * may make, who makes it, and what it must have done when it succeeds; and
 * the world each seed starts from.
 */
import assert from 'node:assert/strict';
import { AppError } from '../../../../lib/errors.js';
import type { Actor } from '../actor.js';
import { INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, student, type Fixture } from '../fixture.js';
import { currentSections, enrolledSections, placeInTables, type State } from './state.js';
import {
  BUSY_STUDENT_IDS,
  CREDITS,
  Dice,
  GRADES,
  HOLD_REASONS,
  instructorActor,
  MAX_HOLD_REASON,
  NEW_INSTRUCTOR_IDS,
  ROOMS,
  SLOTS,
  STUDENT_IDS,
} from './world.js';

export interface Step {
  /** What it does, for messages: "s12 enrolls in §5". */
  label: string;
  /** A student adding or dropping a seat themself, which only the registration period allows. */
  studentAddsOrDrops?: boolean;
  /**
   * The seat (or place in line) the step asks for, and whether the student
   * asks themself, which a registration hold forbids, or the registrar asks
   * for them, which it does not.
   */
  adds?: { userId: number; sectionId: number; byStudent: boolean };
  run: () => Promise<unknown>;
  /** When it succeeds: what it did not do that it should have, judged from the state after it. */
  shortfall?: (after: State) => string | undefined;
}

interface Walk {
  f: Fixture;
  dice: Dice;
  state: State;
  instructors: Actor[];
}


const aStudent = (w: Walk): number => w.dice.pick(w.dice.chance(0.8) ? BUSY_STUDENT_IDS : STUDENT_IDS);

/** Mostly a live section; now and then a deleted or an unknown one. */
function aSection(w: Walk): number {
  const live = w.state.sections.filter((x) => x.deleted === 0);
  if (live.length > 0 && w.dice.chance(0.94)) return w.dice.pick(live).id;
  return w.dice.chance(0.5) && w.state.sections.length > 0 ? w.dice.pick(w.state.sections).id : 999;
}

/** Mostly an enrolled student's place (`ungraded`: mostly one without a grade); now and then any student and section. */
function aSeat(w: Walk, ungraded: boolean): { user_id: number; section_id: number } {
  const seats = w.state.enrollments.filter((e) => e.status === 'enrolled' && (!ungraded || e.grade === null || w.dice.chance(0.1)));
  if (seats.length > 0 && w.dice.chance(0.9)) return w.dice.pick(seats);
  return { user_id: aStudent(w), section_id: aSection(w) };
}

/** The registrar, the section's own instructor, or now and then the fixture's INSTRUCTOR (teaching the section or not). */
function staffFor(w: Walk, sectionId: number): Actor {
  const teacher = w.state.sections.find((x) => x.id === sectionId)?.instructor_id;
  const own = teacher === undefined ? REGISTRAR : instructorActor(teacher);
  return w.dice.weighted([
    [REGISTRAR, 2],
    [own, 2],
    [INSTRUCTOR, 1],
  ]);
}

/**
 * Mostly in a section the student has no seat in; often one of a course they
 * take, which is a wait to change sections when it is full.
 */
function enroll(w: Walk): Step {
  const userId = aStudent(w);
  const seated = enrolledSections(w.state, userId);
  const taking = currentSections(w.state, userId);
  const courseId = taking.length > 0 && w.dice.chance(0.4) ? w.dice.pick(taking).course_id : undefined;
  const open = w.state.sections.filter((x) => x.deleted === 0 && !seated.includes(x.id) && (courseId === undefined || x.course_id === courseId));
  const sectionId = open.length > 0 && w.dice.chance(0.9) ? w.dice.pick(open).id : aSection(w);
  if (w.dice.chance(0.2)) {
    const waive = w.dice.chance(0.5);
    return {
      label: `reg enrolls s${userId} in §${sectionId}${waive ? ', waiving prerequisites' : ''}`,
      adds: { userId, sectionId, byStudent: false },
      run: () => w.f.domain.createEnrollment(REGISTRAR, { user_id: userId, section_id: sectionId, waive_prerequisites: waive }),
      shortfall: (after) => enrolledOrWaiting(after, userId, sectionId),
    };
  }
  return {
    label: `s${userId} enrolls in §${sectionId}`,
    studentAddsOrDrops: true,
    adds: { userId, sectionId, byStudent: true },
    run: () => w.f.domain.createEnrollment(student(userId), { user_id: userId, section_id: sectionId }),
    shortfall: (after) => enrolledOrWaiting(after, userId, sectionId),
  };
}

function enrolledOrWaiting(after: State, userId: number, sectionId: number): string | undefined {
  const place = placeInTables(after, userId, sectionId);
  return place === 'enrolled' || place === 'waiting' ? undefined : `s${userId} is ${place} in §${sectionId}`;
}

/** Half the time for another section of the same course. */
function swap(w: Walk): Step {
  const seat = aSeat(w, true);
  const courseId = w.state.sections.find((x) => x.id === seat.section_id)?.course_id;
  const sameCourse = w.state.sections.filter((x) => x.course_id === courseId && x.id !== seat.section_id && x.deleted === 0);
  const sectionId = sameCourse.length > 0 && w.dice.chance(0.5) ? w.dice.pick(sameCourse).id : aSection(w);
  const byStudent = w.dice.chance(0.8);
  const req = { user_id: seat.user_id, section_id: sectionId, replacing_section_id: seat.section_id };
  return {
    label: `${byStudent ? `s${seat.user_id}` : `reg for s${seat.user_id}`} swaps §${seat.section_id} for §${sectionId}`,
    studentAddsOrDrops: byStudent,
    adds: { userId: seat.user_id, sectionId, byStudent },
    run: () => w.f.domain.createEnrollment(byStudent ? student(seat.user_id) : REGISTRAR, req),
    // The student may have moved on from the new section to another of its course that they wait for.
    shortfall: (after) => {
      const newCourseId = after.sections.find((x) => x.id === sectionId)!.course_id;
      if (placeInTables(after, seat.user_id, seat.section_id) !== 'out') return `s${seat.user_id} kept §${seat.section_id}`;
      if (placeInTables(after, seat.user_id, sectionId) === 'waiting') return `s${seat.user_id} still waits for §${sectionId}`;
      if (!currentSections(after, seat.user_id).some((x) => x.course_id === newCourseId)) return `s${seat.user_id} does not take course ${newCourseId}`;
      return undefined;
    },
  };
}

function drop(w: Walk): Step {
  const { user_id, section_id } = aSeat(w, true);
  const how = w.dice.pick(['self', 'registrar', 'staff'] as const);
  if (how === 'staff') {
    const actor = staffFor(w, section_id);
    return {
      label: `${actor.username} drops s${user_id} from §${section_id}`,
      run: () => w.f.domain.dropSectionEnrollment(actor, { section_id, user_id }),
      shortfall: (after) => out(after, user_id, section_id),
    };
  }
  const actor = how === 'self' ? student(user_id) : REGISTRAR;
  return {
    label: `${actor.username} drops §${section_id} for s${user_id}`,
    studentAddsOrDrops: how === 'self',
    run: () => w.f.domain.dropUserEnrollment(actor, { user_id, section_id }),
    shortfall: (after) => out(after, user_id, section_id),
  };
}

function out(after: State, userId: number, sectionId: number): string | undefined {
  const place = placeInTables(after, userId, sectionId);
  return place === 'out' ? undefined : `s${userId} is ${place} in §${sectionId}`;
}

function leaveWaitlist(w: Walk): Step {
  const entry =
    w.state.waitlist.length > 0 && w.dice.chance(0.9)
      ? w.dice.pick(w.state.waitlist)
      : { user_id: aStudent(w), section_id: aSection(w) };
  const actor = w.dice.chance(0.8) ? student(entry.user_id) : REGISTRAR;
  return {
    label: `${actor.username} takes s${entry.user_id} out of the line of §${entry.section_id}`,
    run: () => w.f.domain.dropUserWaitlist(actor, { user_id: entry.user_id, section_id: entry.section_id }),
    shortfall: (after) => out(after, entry.user_id, entry.section_id),
  };
}

/** A grade for an enrolled student, or now and then one cleared. */
function grade(w: Walk): Step {
  const graded = w.state.enrollments.filter((e) => e.status === 'enrolled' && e.grade !== null);
  const clearing = graded.length > 0 && w.dice.chance(0.3);
  const { user_id, section_id } = clearing ? w.dice.pick(graded) : aSeat(w, false);
  return gradeStep(w, user_id, section_id, clearing ? '' : w.dice.pick(GRADES));
}

/** The section's staff grade the student (`value`), or clear the grade (''). */
function gradeStep(w: Walk, user_id: number, section_id: number, value: string): Step {
  const clearing = value === '';
  const actor = staffFor(w, section_id);
  return {
    label: `${actor.username} ${clearing ? 'clears the grade of' : `gives ${value} to`} s${user_id} in §${section_id}`,
    run: () => w.f.domain.setEnrollmentGrade(actor, { section_id, user_id, grade: value }),
    shortfall: (after) => {
      const place = placeInTables(after, user_id, section_id);
      const expected = clearing ? 'enrolled' : `graded ${value}`;
      return place === expected ? undefined : `s${user_id} is ${place} in §${section_id}, not ${expected}`;
    },
  };
}

/**
 * A course taken again after a grade in it (README: "a graded one is taken,
 * not taking: the course may be taken again"): a graded student enrolls in,
 * or waits for, another section of the course; or a retake under way is
 * graded (I now and then); or an incomplete becomes a grade. So transcripts
 * hold repeated attempts, in sections of lower and higher ids.
 */
function retake(w: Walk): Step {
  const s = w.state;
  const courseOf = (sectionId: number) => s.sections.find((x) => x.id === sectionId)!.course_id;
  const graded = s.enrollments.filter((e) => e.status === 'enrolled' && e.grade !== null);
  const retaking = s.enrollments.filter(
    (e) => e.status === 'enrolled' && e.grade === null && graded.some((g) => g.user_id === e.user_id && courseOf(g.section_id) === courseOf(e.section_id)),
  );
  const incomplete = graded.filter((e) => e.grade === 'I');
  const what = w.dice.weighted([
    ['enroll', 3],
    ['grade', retaking.length > 0 ? 2 : 0],
    ['finish', incomplete.length > 0 ? 1 : 0],
  ] as const);
  if (what === 'grade') {
    const seat = w.dice.pick(retaking);
    return gradeStep(w, seat.user_id, seat.section_id, w.dice.pick(GRADES));
  }
  if (what === 'finish') {
    const seat = w.dice.pick(incomplete);
    return gradeStep(w, seat.user_id, seat.section_id, w.dice.pick(GRADES.filter((g) => g !== 'I')));
  }
  if (graded.length === 0) return grade(w);
  const done = w.dice.pick(graded);
  const seated = enrolledSections(s, done.user_id);
  const others = s.sections.filter((x) => x.deleted === 0 && x.course_id === courseOf(done.section_id) && !seated.includes(x.id));
  if (others.length === 0) return enroll(w);
  const sectionId = w.dice.pick(others).id;
  const userId = done.user_id;
  const byStudent = w.dice.chance(0.7);
  return {
    label: `${byStudent ? `s${userId} enrolls` : `reg enrolls s${userId}`} in §${sectionId}, taking the course of §${done.section_id} (${done.grade}) again`,
    studentAddsOrDrops: byStudent,
    adds: { userId, sectionId, byStudent },
    run: () => w.f.domain.createEnrollment(byStudent ? student(userId) : REGISTRAR, { user_id: userId, section_id: sectionId }),
    shortfall: (after) => enrolledOrWaiting(after, userId, sectionId),
  };
}

function resize(w: Walk): Step {
  const sectionId = aSection(w);
  if (w.dice.chance(0.5)) {
    const capacity = w.dice.int(1, 4);
    return {
      label: `reg gives §${sectionId} ${capacity} seats`,
      run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, capacity }),
      shortfall: (after) => (after.sections.find((x) => x.id === sectionId)!.capacity === capacity ? undefined : 'the capacity stayed'),
    };
  }
  const waitlistCapacity = w.dice.int(0, 3);
  return {
    label: `reg gives §${sectionId} a line of ${waitlistCapacity}`,
    run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, waitlist_capacity: waitlistCapacity }),
    shortfall: (after) =>
      after.sections.find((x) => x.id === sectionId)!.waitlist_capacity === waitlistCapacity ? undefined : 'the waitlist capacity stayed',
  };
}

/** Mostly unfreezes a frozen section, when there is one: freezes are short. */
function freeze(w: Walk): Step {
  const frozenSections = w.state.sections.filter((x) => x.frozen === 1 && x.deleted === 0);
  const sectionId = frozenSections.length > 0 && w.dice.chance(0.8) ? w.dice.pick(frozenSections).id : aSection(w);
  const frozen = w.state.sections.find((x) => x.id === sectionId)?.frozen !== 1;
  return {
    label: `reg ${frozen ? 'freezes' : 'unfreezes'} §${sectionId}`,
    run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, frozen }),
    shortfall: (after) => (after.sections.find((x) => x.id === sectionId)!.frozen === (frozen ? 1 : 0) ? undefined : 'the freeze did not change'),
  };
}

/** A new time, classroom or instructor for a section. */
function move(w: Walk): Step {
  const sectionId = aSection(w);
  const change = w.dice.pick(['time', 'time', 'classroom', 'instructor'] as const);
  if (change === 'time') {
    const slot = w.dice.pick(SLOTS);
    return {
      label: `reg moves §${sectionId} to ${slot.day} ${slot.begin_time}-${slot.end_time}`,
      run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, ...slot }),
    };
  }
  if (change === 'classroom') {
    const classroom = w.dice.pick(ROOMS);
    return {
      label: `reg moves §${sectionId} to classroom ${classroom}`,
      run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, classroom }),
    };
  }
  const instructor = w.dice.pick(w.instructors);
  return {
    label: `reg hands §${sectionId} to ${instructor.username}`,
    run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, instructor_id: instructor.userId }),
  };
}

function sectionRequest(dice: Dice, instructors: Actor[], courseId: number) {
  return {
    course_id: courseId,
    classroom: dice.pick(ROOMS),
    capacity: dice.int(1, 3),
    waitlist_capacity: dice.int(1, 3),
    ...dice.pick(SLOTS),
    instructor_id: dice.pick(instructors).userId,
  };
}

function createSection(w: Walk): Step {
  const req = sectionRequest(w.dice, w.instructors, w.dice.pick(w.state.courseIds));
  return {
    label: `reg creates a section of course ${req.course_id}: ${JSON.stringify(req)}`,
    run: () => w.f.domain.createSection(REGISTRAR, req),
  };
}

function deleteSection(w: Walk): Step {
  const sectionId = aSection(w);
  return { label: `reg deletes §${sectionId}`, run: () => w.f.domain.deleteSection(REGISTRAR, { section_id: sectionId }) };
}

/** Mostly clears a course's prerequisites, when one has some: most of the time few courses require others. */
function setPrerequisites(w: Walk): Step {
  const requiring = [...new Set(w.state.prerequisites.map((p) => p.course_id))];
  const clearing = requiring.length > 0 && w.dice.chance(0.7);
  const courseId = clearing ? w.dice.pick(requiring) : w.dice.pick(w.state.courseIds);
  const others = w.state.courseIds.filter((c) => c !== courseId);
  const ids = clearing ? [] : w.dice.chance(0.7) ? [w.dice.pick(others)] : [w.dice.pick(others), w.dice.pick(others)];
  return {
    label: `reg sets the prerequisites of course ${courseId} to [${ids.join(', ')}]`,
    run: () => w.f.domain.setCoursePrerequisites(REGISTRAR, { course_id: courseId, prerequisite_ids: ids }),
  };
}

function setCredits(w: Walk): Step {
  const courseId = w.dice.pick(w.state.courseIds);
  const credits = w.dice.pick(CREDITS);
  return {
    label: `reg makes course ${courseId} worth ${credits} credits`,
    run: () => w.f.domain.updateCourse(REGISTRAR, { course_id: courseId, credits }),
  };
}

/** Closed (since 2000) now and then, open the rest of the time. */
function setRegistrationPeriod(w: Walk): Step {
  const closed = w.dice.chance(0.08);
  return {
    label: `reg ${closed ? 'closes' : 'opens'} registration`,
    run: () => w.f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: '', closes_at: closed ? '2000-01-01T00:00:00Z' : '' }),
  };
}

/** A user for a message: a student as "s12", anyone else by id. */
const userLabel = (userId: number): string => (STUDENT_IDS.includes(userId) ? `s${userId}` : `user ${userId}`);

/** Who places or releases a hold: the registrar, or now and then a student (`studentId`) or an instructor, who may not. */
function registrarOrNot(w: Walk, studentId: number): Actor {
  if (w.dice.chance(0.9)) return REGISTRAR;
  return w.dice.chance(0.5) ? student(studentId) : w.dice.pick(w.instructors);
}

/**
 * The registrar places a hold on a student: often one at the head of a line,
 * whom a promotion must then pass over, else mostly a busy one. Now and then
 * it is refused: the user is an instructor or unknown, the reason is empty or
 * too long, or a student (the one to hold, at times) or an instructor asks.
 */
function placeHold(w: Walk): Step {
  const firstInLine = w.state.waitlist.filter((e) => e.position === 1).map((e) => e.user_id);
  const aStudentToHold = () => (firstInLine.length > 0 && w.dice.chance(0.5) ? w.dice.pick(firstInLine) : aStudent(w));
  const userId = w.dice.chance(0.9) ? aStudentToHold() : w.dice.chance(0.5) ? w.dice.pick(w.instructors).userId : 999;
  // Now and then an empty reason, or one of the longest length or one past it.
  const reason = w.dice.chance(0.9) ? w.dice.pick(HOLD_REASONS) : w.dice.pick(['', 'x'.repeat(MAX_HOLD_REASON), 'x'.repeat(MAX_HOLD_REASON + 1)]);
  const actor = registrarOrNot(w, w.dice.chance(0.5) ? userId : aStudent(w));
  const held = w.state.holds;
  const why = reason.length > 40 ? `a reason of ${reason.length} characters` : JSON.stringify(reason);
  return {
    label: `${actor.username} places a hold on ${userLabel(userId)}: ${why}`,
    run: () => w.f.domain.createUserHold(actor, { user_id: userId, reason }),
    shortfall: (after) => {
      if (actor !== REGISTRAR) return `${actor.username}, not the registrar, placed it`;
      if (!STUDENT_IDS.includes(userId)) return `user ${userId} is no student`;
      if (reason === '' || reason.length > MAX_HOLD_REASON) return `the reason has ${reason.length} characters`;
      const placed = after.holds.some((h) => h.user_id === userId && h.reason === reason && !held.some((x) => x.id === h.id));
      return placed ? undefined : `s${userId} has no new active hold for it`;
    },
  };
}

/**
 * The registrar releases a hold: mostly an active one, so that holds are
 * short; most often, when there is one, a hold of a student who waits where a
 * seat is free (once their last hold is gone, the seat is theirs if they come
 * first and fit). Now and then it is refused: the hold was released already,
 * is unknown, or is named under another student than its own, or a student
 * (the held one, at times) or an instructor asks. With no hold to release,
 * mostly one is placed instead: holds are short, but come back.
 */
function releaseHold(w: Walk): Step {
  const active = w.state.holds;
  if (active.length === 0 && w.dice.chance(0.8)) return placeHold(w);
  // The holds of students who wait where a seat is free.
  const free = w.state.sections.filter((x) => x.deleted === 0 && x.frozen === 0 && x.enrolled_count < x.capacity).map((x) => x.id);
  const nearSeat = active.filter((h) => w.state.waitlist.some((e) => e.user_id === h.user_id && free.includes(e.section_id)));
  const which = w.dice.weighted([
    ['active', active.length > 0 ? 10 : 0],
    ['of a student a free seat waits for', nearSeat.length > 0 ? 20 : 0],
    ['released already', w.state.releasedHolds.length > 0 ? 1 : 0],
    ['unknown', 1],
    ['under another student', active.length > 0 ? 1 : 0],
  ] as const);
  let hold: { id: number; user_id: number };
  if (which === 'active') hold = w.dice.pick(active);
  else if (which === 'of a student a free seat waits for') hold = w.dice.pick(nearSeat);
  else if (which === 'released already') hold = w.dice.pick(w.state.releasedHolds);
  else if (which === 'unknown') hold = { id: 999, user_id: aStudent(w) };
  else {
    const { id, user_id } = w.dice.pick(active);
    hold = { id, user_id: w.dice.pick(STUDENT_IDS.filter((u) => u !== user_id)) };
  }
  const { id, user_id } = hold;
  const actor = registrarOrNot(w, user_id);
  const wasActive = active.some((h) => h.id === id && h.user_id === user_id);
  return {
    label: `${actor.username} releases hold ${id} of s${user_id}${wasActive ? '' : ` (${which})`}`,
    run: () => w.f.domain.deleteUserHold(actor, { user_id, hold_id: id }),
    shortfall: (after) => {
      if (actor !== REGISTRAR) return `${actor.username}, not the registrar, released it`;
      if (!wasActive) return `hold ${id} was no active hold of s${user_id}`;
      return after.releasedHolds.some((h) => h.id === id) ? undefined : `hold ${id} is still active`;
    },
  };
}

export const STEP_KINDS: ReadonlyArray<readonly [(w: Walk) => Step, number]> = [
  [enroll, 40],
  [swap, 8],
  [drop, 9],
  [leaveWaitlist, 4],
  [grade, 6],
  [resize, 5],
  [freeze, 2],
  [move, 5],
  [createSection, 3],
  [deleteSection, 2],
  [setPrerequisites, 2],
  [setCredits, 3],
  [setRegistrationPeriod, 4],
  [retake, 6],
  // Releases outweigh placements, so that holds are short; with none to release, a release mostly places one.
  [placeHold, 1],
  [releaseHold, 5],
];

/** Courses worth 3 (the fixture's), 6, 9 and 10 credits (9 and 10 together pass the limit), each with two or three sections; returns the instructors. */
export async function buildWorld(f: Fixture, dice: Dice): Promise<Actor[]> {
  for (const id of NEW_INSTRUCTOR_IDS) {
    f.directoryUsers.push({ id, username: `i${id}`, first_name: 'In', last_name: `Structor${id}`, roles: ['instructor'] });
  }
  await f.domain.syncUsers();
  const instructors = [INSTRUCTOR, OTHER_INSTRUCTOR, ...NEW_INSTRUCTOR_IDS.map(instructorActor)];
  const courseIds = [f.courseId];
  for (const credits of [6, 9, 10]) courseIds.push(await f.course(credits));
  for (const courseId of courseIds) {
    // The registrar tries times, rooms and instructors until one is free.
    for (let made = 0, wanted = dice.int(2, 3), tries = 0; made < wanted; tries++) {
      assert.ok(tries < 100, 'no free classroom and instructor for a section');
      await f.domain.createSection(REGISTRAR, sectionRequest(dice, instructors, courseId)).then(
        () => made++,
        (err: unknown) => assert.ok(err instanceof AppError, String(err)),
      );
    }
  }
  return instructors;
}
