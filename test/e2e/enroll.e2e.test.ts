/**
 * The enrollment service end to end on the real cluster, through Envoy: every
 * rule over HTTP/JSON, the main paths over native gRPC, and the permission
 * matrix for a student, another student, the section's instructor, another
 * instructor and the registrar.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { Status } from '../../lib/errors.js';
import { useCluster, waitUntil } from '../harness/cluster.js';
import { ENVOY_HTTP, call, enrollClient, http, httpRaw, streamOf, uniqueName, type HttpAnswer } from '../support/clients.js';
import { protoHttpRoutes, routeShape } from '../support/proto-routes.js';
import { course, createSchool, enroll, person, section, type Person, type School } from '../support/school.js';

describe('the enrollment service on the real cluster', () => {
  const env = useCluster();
  let school: School;

  before(async () => {
    school = await createSchool(env.cluster.registrar);
  });

  async function waitlistOf(sectionId: number): Promise<Array<{ user_id: number; position: number }>> {
    const res = await http('GET', `/sections/${sectionId}/waitlist`, { token: school.registrar.token });
    assert.equal(res.status, 200, res.text);
    return res.body.entries;
  }

  async function enrolledOf(sectionId: number): Promise<number[]> {
    const res = await http('GET', `/sections/${sectionId}/enrollments?status=enrolled`, { token: school.registrar.token });
    assert.equal(res.status, 200, res.text);
    return res.body.enrollments.map((e: { user_id: number }) => e.user_id).sort((a: number, b: number) => a - b);
  }

  /** A one-seat section on `day` at 03:00–04:00, and one of another course at 03:30–04:30 (another instructor's) that clashes with it. */
  async function oneSeatAndAClash(day: string): Promise<{ sid: number; clashing: number }> {
    // Before 06:00, where section()'s own slots never fall; the clashing one has the other instructor.
    const sid = await section(school, { capacity: 1, day, begin_time: '03:00', end_time: '04:00' });
    const clashing = await section(school, { course_id: (await course(school)).id, day, begin_time: '03:30', end_time: '04:30', instructor: school.otherInstructor });
    return { sid, clashing };
  }

  async function students(n: number): Promise<Person[]> {
    return Promise.all(Array.from({ length: n }, () => person('student', school.registrar.token)));
  }

  describe('enrollment rules over HTTP/JSON', () => {
    test('a free seat enrolls; a full section waitlists with a position; a full waitlist refuses', async () => {
      const sid = await section(school, { capacity: 1, waitlist_capacity: 1 });
      const [a, b, c] = await students(3);
      const first = await enroll(a!, a!.id, sid);
      assert.equal(first.status, 200, first.text);
      assert.deepEqual({ status: first.body.status, position: first.body.position }, { status: 'enrolled', position: 0 });
      const second = await enroll(b!, b!.id, sid);
      assert.deepEqual({ status: second.body.status, position: second.body.position }, { status: 'waitlisted', position: 1 });
      const third = await enroll(c!, c!.id, sid);
      assert.equal(third.status, 400, third.text);
      assert.match(third.body.message, /full/i);
      const again = await enroll(a!, a!.id, sid);
      assert.equal(again.status, 409, 'already enrolled');
      const againWaitlisted = await enroll(b!, b!.id, sid);
      assert.equal(againWaitlisted.status, 409, 'already waitlisted');
    });

    test('no student is on more than 3 waitlists', async () => {
      const [holder, s] = await students(2);
      const full = [];
      for (let i = 0; i < 4; i++) {
        const sid = await section(school, { course_id: (await course(school)).id, capacity: 1 });
        assert.equal((await enroll(holder!, holder!.id, sid)).status, 200);
        full.push(sid);
      }
      for (const sid of full.slice(0, 3)) assert.equal((await enroll(s!, s!.id, sid)).body.status, 'waitlisted');
      const fourth = await enroll(s!, s!.id, full[3]!);
      assert.equal(fourth.status, 400);
      assert.match(fourth.body.message, /waitlist/i);
    });

    test('overlapping meeting times on the same day are refused, naming the section', async () => {
      const [s] = await students(1);
      const a = await section(school, { day: 'Friday', begin_time: '23:00', end_time: '23:50' });
      const b = await section(school, { course_id: (await course(school)).id, day: 'Friday', begin_time: '23:30', end_time: '23:59', instructor: school.otherInstructor });
      const c = await section(school, { course_id: (await course(school)).id, day: 'Saturday', begin_time: '23:30', end_time: '23:59' });
      assert.equal((await enroll(s!, s!.id, a)).status, 200);
      const clash = await enroll(s!, s!.id, b);
      assert.equal(clash.status, 400);
      assert.match(clash.body.message, new RegExp(String(a)));
      assert.equal((await enroll(s!, s!.id, c)).status, 200, 'another day is fine');
    });

    test('a frozen section refuses enrollment; dropping from it promotes nobody until it thaws', async () => {
      const sid = await section(school, { capacity: 1 });
      const [a, b, c] = await students(3);
      await enroll(a!, a!.id, sid);
      await enroll(b!, b!.id, sid);
      const freeze = await http('PATCH', `/sections/${sid}`, { token: school.registrar.token, body: { frozen: true } });
      assert.equal(freeze.status, 200, freeze.text);
      assert.equal(freeze.body.frozen, true);
      const refused = await enroll(c!, c!.id, sid);
      assert.equal(refused.status, 400);
      assert.match(refused.body.message, /frozen/i);
      const drop = await http('DELETE', `/users/${a!.id}/enrollments/${sid}`, { token: a!.token });
      assert.equal(drop.status, 200, drop.text);
      assert.deepEqual(drop.body.promoted_user_ids, []);
      assert.deepEqual(await enrolledOf(sid), []);
      const thaw = await http('PATCH', `/sections/${sid}`, { token: school.registrar.token, body: { frozen: false } });
      assert.equal(thaw.status, 200);
      assert.deepEqual(await enrolledOf(sid), [b!.id], 'unfreezing promotes');
    });

    test("the section's instructor grades a student, who sees it; a graded enrollment is neither dropped nor deleted until cleared", async () => {
      const sid = await section(school, { capacity: 1 });
      const [a, b] = await students(2);
      await enroll(a!, a!.id, sid);
      await enroll(b!, b!.id, sid);
      const gradePath = `/sections/${sid}/enrollments/${a!.id}/grade`;
      const graded = await http('PUT', gradePath, { token: school.instructor.token, body: { grade: 'a-' } });
      assert.equal(graded.status, 200, graded.text);
      assert.equal(graded.body.grade, 'A-');
      // Read your own write on the student's next call, wherever Envoy sends it.
      const own = await http('GET', `/users/${a!.id}/enrollments`, { token: a!.token });
      assert.deepEqual(own.body.enrollments.map((e: { section_id: number; grade: string }) => [e.section_id, e.grade]), [[sid, 'A-']]);

      const badGrade = await http('PUT', gradePath, { token: school.instructor.token, body: { grade: 'E' } });
      assert.equal(badGrade.status, 400, badGrade.text);
      assert.match(badGrade.body.message, /grade/);
      const selfGraded = await http('PUT', gradePath, { token: a!.token, body: { grade: 'A+' } });
      assert.equal(selfGraded.status, 403, 'Envoy refuses a student');
      const otherTeacher = await http('PUT', gradePath, { token: school.otherInstructor.token, body: { grade: 'A+' } });
      assert.equal(otherTeacher.status, 403, "the service refuses another section's instructor");
      assert.equal((await http('PUT', `/sections/${sid}/enrollments/${b!.id}/grade`, { token: school.instructor.token, body: { grade: 'A' } })).status, 404, 'a waitlisted student has no enrollment to grade');

      const drop = await http('DELETE', `/users/${a!.id}/enrollments/${sid}`, { token: a!.token });
      assert.equal(drop.status, 400, drop.text);
      assert.match(drop.body.message, /grade/);
      const deletion = await http('DELETE', `/sections/${sid}`, { token: school.registrar.token });
      assert.equal(deletion.status, 400, deletion.text);
      assert.deepEqual(await enrolledOf(sid), [a!.id]);
      assert.deepEqual((await waitlistOf(sid)).map((e) => e.user_id), [b!.id], 'nothing moved');
      const stillGraded = await http('GET', `/sections/${sid}/enrollments`, { token: school.instructor.token });
      assert.equal(stillGraded.body.enrollments[0].grade, 'A-');

      const cleared = await http('PUT', gradePath, { token: school.registrar.token, body: { grade: '' } });
      assert.equal(cleared.status, 200, cleared.text);
      assert.equal(cleared.body.grade ?? '', '');
      const dropped = await http('DELETE', `/users/${a!.id}/enrollments/${sid}`, { token: a!.token });
      assert.equal(dropped.status, 200, dropped.text);
      assert.deepEqual(dropped.body.promoted_user_ids, [b!.id]);
    });

    test('a course with a prerequisite takes only students who passed it; only the registrar waives it; no circles', async () => {
      const basics = await course(school, 'Basics');
      const advanced = await course(school, 'Advanced');
      const basicsSection = await section(school, { course_id: basics.id });
      const advancedSection = await section(school, { course_id: advanced.id });
      const reg = school.registrar.token;
      const set = await http('PUT', `/courses/${advanced.id}/prerequisites`, { token: reg, body: { prerequisite_ids: [basics.id] } });
      assert.equal(set.status, 200, set.text);
      assert.deepEqual(set.body.prerequisites.map((c: { code: string }) => c.code), [basics.code]);
      const [a, b] = await students(2);
      const listed = await http('GET', `/courses/${advanced.id}/prerequisites`, { token: a!.token });
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.body.prerequisites.map((c: { id: number }) => c.id), [basics.id]);

      const early = await enroll(a!, a!.id, advancedSection);
      assert.equal(early.status, 400, early.text);
      assert.ok(early.body.message.includes(basics.code), early.body.message);
      assert.equal((await enroll(a!, a!.id, basicsSection)).status, 200);
      const graded = await http('PUT', `/sections/${basicsSection}/enrollments/${a!.id}/grade`, { token: school.instructor.token, body: { grade: 'C' } });
      assert.equal(graded.status, 200, graded.text);
      const passed = await enroll(a!, a!.id, advancedSection);
      assert.equal(passed.status, 200, passed.text);
      assert.equal(passed.body.status, 'enrolled');

      const selfWaived = await http('POST', `/users/${b!.id}/enrollments`, { token: b!.token, body: { section_id: advancedSection, waive_prerequisites: true } });
      assert.equal(selfWaived.status, 403, selfWaived.text);
      const waived = await http('POST', `/users/${b!.id}/enrollments`, { token: reg, body: { section_id: advancedSection, waive_prerequisites: true } });
      assert.equal(waived.status, 200, waived.text);
      assert.deepEqual(await enrolledOf(advancedSection), [a!.id, b!.id].sort((x, y) => x - y));

      const circle = await http('PUT', `/courses/${basics.id}/prerequisites`, { token: reg, body: { prerequisite_ids: [advanced.id] } });
      assert.equal(circle.status, 400, circle.text);
      const unknown = await http('PUT', `/courses/${advanced.id}/prerequisites`, { token: reg, body: { prerequisite_ids: [987654] } });
      assert.equal(unknown.status, 404, unknown.text);
      const notANumber = await http('PUT', `/courses/${advanced.id}/prerequisites`, { token: reg, body: { prerequisite_ids: 'all' } });
      assert.equal(notANumber.status, 400, notANumber.text);
      const byInstructor = await http('PUT', `/courses/${advanced.id}/prerequisites`, { token: school.instructor.token, body: { prerequisite_ids: [] } });
      assert.equal(byInstructor.status, 403, byInstructor.text);
      const stillThere = await http('GET', `/courses/${advanced.id}/prerequisites`, { token: reg });
      assert.deepEqual(stillThere.body.prerequisites.map((c: { id: number }) => c.id), [basics.id], 'refused changes left it as it was');
    });

    test('a student carries at most 18 credits of ungraded courses; a grade makes room, and neither heavier courses nor a cleared grade pass the limit', async () => {
      const heavy = await course(school, 'Thesis', 12);
      const got = await http('GET', `/courses/${heavy.id}`, { token: school.student.token });
      assert.equal(got.body.credits, 12, got.text);
      const medium = await course(school, 'Seminar');
      const patched = await http('PATCH', `/courses/${medium.id}`, { token: school.registrar.token, body: { credits: 6 } });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.credits, 6);
      const badCredits = await http('PATCH', `/courses/${medium.id}`, { token: school.registrar.token, body: { credits: 13 } });
      assert.equal(badCredits.status, 400, badCredits.text);
      assert.match(badCredits.body.message, /credits/);
      const heavySection = await section(school, { course_id: heavy.id });
      assert.equal((await http('GET', `/sections/${heavySection}`, { token: school.student.token })).body.course_credits, 12, 'the full view has the credits');
      const [s] = await students(1);
      assert.equal((await enroll(s!, s!.id, heavySection)).status, 200);
      assert.equal((await enroll(s!, s!.id, await section(school, { course_id: medium.id }))).status, 200);
      const extra = await section(school);
      const over = await enroll(s!, s!.id, extra);
      assert.equal(over.status, 400, over.text);
      assert.match(over.body.message, /carries 18 credits/);
      // A course they take gets no heavier past their limit.
      const heavier = await http('PATCH', `/courses/${medium.id}`, { token: school.registrar.token, body: { credits: 7 } });
      assert.equal(heavier.status, 400, heavier.text);
      assert.match(heavier.body.message, new RegExp(`user ${s!.id} would carry 19 credits`));
      const gradePath = `/sections/${heavySection}/enrollments/${s!.id}/grade`;
      assert.equal((await http('PUT', gradePath, { token: school.instructor.token, body: { grade: 'A' } })).status, 200);
      const fits = await enroll(s!, s!.id, extra);
      assert.equal(fits.status, 200, fits.text);
      // Clearing the grade would make the 12 credits current again, past the limit.
      const cleared = await http('PUT', gradePath, { token: school.registrar.token, body: { grade: '' } });
      assert.equal(cleared.status, 400, cleared.text);
      assert.match(cleared.body.message, /carries 9 credits; \S+ adds 12, past the limit of 18/);
      const transcript = await http('GET', `/users/${s!.id}/transcript`, { token: s!.token });
      assert.equal(transcript.status, 200, transcript.text);
      assert.deepEqual(transcript.body.entries.map((e: { section_id: number; credits: number; grade: string }) => [e.section_id, e.credits, e.grade]), [[heavySection, 12, 'A']]);
      assert.deepEqual([transcript.body.credits_earned, transcript.body.credits_in_progress, transcript.body.gpa], [12, 9, 4]);
      assert.equal((await http('GET', `/users/${s!.id}/transcript`, { token: school.otherStudent.token })).status, 403);
    });

    test('outside the registration period a student neither enrolls nor drops; the registrar still does', async () => {
      const reg = school.registrar.token;
      const sid = await section(school);
      const [a, b] = await students(2);
      assert.equal((await enroll(a!, a!.id, sid)).status, 200);
      try {
        const set = await http('PUT', '/registration-period', { token: reg, body: { opens_at: '2020-01-06T08:00:00-08:00', closes_at: '2020-01-20T00:00:00Z' } });
        assert.equal(set.status, 200, set.text);
        assert.deepEqual(set.body, { opens_at: '2020-01-06T16:00:00Z', closes_at: '2020-01-20T00:00:00Z', open: false }, 'in UTC');
        const seen = await http('GET', '/registration-period', { token: b!.token });
        assert.equal(seen.status, 200, seen.text);
        assert.equal(seen.body.open, false);
        const late = await enroll(b!, b!.id, sid);
        assert.equal(late.status, 400, late.text);
        assert.match(late.body.message, /registration closed at 2020-01-20T00:00:00Z/);
        const lateDrop = await http('DELETE', `/users/${a!.id}/enrollments/${sid}`, { token: a!.token });
        assert.equal(lateDrop.status, 400, lateDrop.text);
        assert.deepEqual(await enrolledOf(sid), [a!.id]);
        const byRegistrar = await http('POST', `/users/${b!.id}/enrollments`, { token: reg, body: { section_id: sid } });
        assert.equal(byRegistrar.status, 200, byRegistrar.text);
        const bad = await http('PUT', '/registration-period', { token: reg, body: { opens_at: 'next monday' } });
        assert.equal(bad.status, 400, bad.text);
        assert.match(bad.body.message, /opens_at/);
        const byStudent = await http('PUT', '/registration-period', { token: a!.token, body: {} });
        assert.equal(byStudent.status, 403, byStudent.text);
      } finally {
        const reopened = await http('PUT', '/registration-period', { token: reg, body: {} });
        assert.equal(reopened.status, 200, reopened.text);
        assert.equal(reopened.body.open, true);
      }
      const drop = await http('DELETE', `/users/${a!.id}/enrollments/${sid}`, { token: a!.token });
      assert.equal(drop.status, 200, drop.text);
    });

    test('a registration hold: the student adds nothing themself, waits without being promoted, and takes the free seat once it is released', async () => {
      const sid = await section(school, { capacity: 1 });
      const other = await section(school, { course_id: (await course(school)).id });
      const [holder, held, next] = await students(3);
      await enroll(holder!, holder!.id, sid);
      assert.equal((await enroll(held!, held!.id, sid)).body.position, 1);
      assert.equal((await enroll(next!, next!.id, sid)).body.position, 2);
      const reg = school.registrar.token;

      const placed = await http('POST', `/users/${held!.id}/holds`, { token: reg, body: { reason: 'tuition unpaid' } });
      assert.equal(placed.status, 200, placed.text);
      assert.equal(placed.body.reason, 'tuition unpaid');
      const refused = await enroll(held!, held!.id, other);
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.message, /registration hold \(tuition unpaid\)/);
      const seen = await http('GET', `/users/${held!.id}/holds`, { token: held!.token });
      assert.equal(seen.status, 200, seen.text);
      assert.deepEqual(seen.body.holds.map((h: { id: number; reason: string }) => [h.id, h.reason]), [[placed.body.id, 'tuition unpaid']]);

      // The seat frees: the held student is skipped and keeps their place.
      const drop = await http('DELETE', `/users/${holder!.id}/enrollments/${sid}`, { token: holder!.token });
      assert.deepEqual(drop.body.promoted_user_ids, [next!.id]);
      assert.deepEqual((await waitlistOf(sid)).map((e) => [e.user_id, e.position]), [[held!.id, 1]]);
      const again = await http('DELETE', `/users/${next!.id}/enrollments/${sid}`, { token: next!.token });
      assert.deepEqual(again.body.promoted_user_ids, [], 'still held: the seat stays free');

      const released = await http('DELETE', `/users/${held!.id}/holds/${placed.body.id}`, { token: reg });
      assert.equal(released.status, 200, released.text);
      assert.ok(released.body.released_at, 'the answer is the hold as released');
      assert.deepEqual(await enrolledOf(sid), [held!.id], 'the release gave them the free seat');
      assert.equal((await http('DELETE', `/users/${held!.id}/holds/${placed.body.id}`, { token: reg })).status, 404, 'released once');
      assert.equal((await http('GET', `/users/${held!.id}/holds`, { token: held!.token })).body.holds?.length ?? 0, 0);
      assert.equal((await http('POST', `/users/${school.instructor.id}/holds`, { token: reg, body: { reason: 'x' } })).status, 400, 'only students are held');
      assert.equal((await http('POST', `/users/${held!.id}/holds`, { token: reg, body: { reason: '' } })).status, 400);
      assert.equal((await http('PUT', `/users/${held!.id}/holds`, { token: reg, body: {} })).status, 405);
    });

    test('the registrar moves a section, unless one of its students would then clash; a classroom, and an instructor, hold one section at a time', async () => {
      const reg = school.registrar.token;
      const sid = await section(school, { day: 'Saturday', begin_time: '22:00', end_time: '22:30' });
      const other = await section(school, { course_id: (await course(school)).id, day: 'Sunday', begin_time: '22:00', end_time: '22:30', instructor: school.otherInstructor });
      const [s] = await students(1);
      assert.equal((await enroll(s!, s!.id, sid)).status, 200);
      assert.equal((await enroll(s!, s!.id, other)).status, 200);
      const clash = await http('PATCH', `/sections/${sid}`, { token: reg, body: { day: 'sunday', begin_time: '22:15', end_time: '22:45' } });
      assert.equal(clash.status, 400, clash.text);
      assert.match(clash.body.message, new RegExp(`user ${s!.id} is enrolled in section ${other}`));
      const moved = await http('PATCH', `/sections/${sid}`, { token: reg, body: { day: 'sunday', begin_time: '22:30', end_time: '23:00' } });
      assert.equal(moved.status, 200, moved.text);
      assert.deepEqual([moved.body.day, moved.body.begin_time, moved.body.end_time], ['Sunday', '22:30', '23:00']);
      const backwards = await http('PATCH', `/sections/${sid}`, { token: reg, body: { end_time: '22:00' } });
      assert.equal(backwards.status, 400, backwards.text);
      assert.match(backwards.body.message, /end_time/);
      const seen = await http('GET', `/sections/${sid}`, { token: s!.token });
      assert.deepEqual([seen.body.day, seen.body.begin_time, seen.body.end_time], ['Sunday', '22:30', '23:00']);
      // Its classroom is taken then.
      const sameRoom = await http('POST', '/sections', {
        token: reg,
        body: { course_id: school.courseId, classroom: seen.body.classroom.toLowerCase(), capacity: 5, day: 'Sunday', begin_time: '22:45', end_time: '23:30', instructor_id: school.instructor.id },
      });
      assert.equal(sameRoom.status, 400, sameRoom.text);
      assert.match(sameRoom.body.message, new RegExp(`is taken by section ${sid}`));
      // And its instructor teaches then, whatever the room.
      const sameTeacher = await http('POST', '/sections', {
        token: reg,
        body: { course_id: school.courseId, classroom: `${seen.body.classroom}-annex`, capacity: 5, day: 'Sunday', begin_time: '22:45', end_time: '23:30', instructor_id: seen.body.instructor_id },
      });
      assert.equal(sameTeacher.status, 400, sameTeacher.text);
      assert.match(sameTeacher.body.message, new RegExp(`instructor ${seen.body.instructor_id} teaches section ${sid} at that time`));
    });

    test('a swap trades a section for a free seat in another in one step, or changes nothing', async () => {
      const given = await section(school, { capacity: 1 });
      const wanted = await section(school);
      const full = await section(school, { capacity: 1 });
      const [a, waiting, holder] = await students(3);
      assert.equal((await enroll(a!, a!.id, given)).status, 200);
      assert.equal((await enroll(waiting!, waiting!.id, given)).body.position, 1);
      assert.equal((await enroll(holder!, holder!.id, full)).status, 200);
      const swapTo = (sectionId: number, replacing: number) =>
        http('POST', `/users/${a!.id}/enrollments`, { token: a!.token, body: { section_id: sectionId, replacing_section_id: replacing } });
      const noSeat = await swapTo(full, given);
      assert.equal(noSeat.status, 400, noSeat.text);
      assert.match(noSeat.body.message, new RegExp(`section ${full} has no free seat; a swap does not wait, so user ${a!.id} keeps section ${given}`));
      const same = await swapTo(given, given);
      assert.equal(same.status, 400, same.text);
      assert.match(same.body.message, /replacing_section_id/);
      assert.deepEqual(await enrolledOf(given), [a!.id], 'refused swaps left the seat as it was');
      const swapped = await swapTo(wanted, given);
      assert.equal(swapped.status, 200, swapped.text);
      assert.deepEqual(swapped.body, { user_id: a!.id, section_id: wanted, status: 'enrolled', position: 0, replaced_section_id: given, promoted_user_ids: [waiting!.id], moved_to_section_id: 0 });
      assert.deepEqual(await enrolledOf(given), [waiting!.id]);
      assert.deepEqual(await enrolledOf(wanted), [a!.id]);
      assert.deepEqual(await waitlistOf(given), []);
    });

    test('a student takes a course in one section: a second seat is refused, and waiting for a full one moves them when its seat frees', async () => {
      const held = await section(school, { capacity: 1 });
      const open = await section(school);
      const full = await section(school, { capacity: 1 });
      const [a, waiting, holder] = await students(3);
      assert.equal((await enroll(a!, a!.id, held)).status, 200);
      assert.equal((await enroll(waiting!, waiting!.id, held)).body.position, 1);
      assert.equal((await enroll(holder!, holder!.id, full)).status, 200);
      const second = await enroll(a!, a!.id, open);
      assert.equal(second.status, 400, second.text);
      assert.match(second.body.message, new RegExp(`takes .* in section ${held}; to change to section ${open}, enroll with replacing_section_id ${held}`));
      assert.deepEqual(await enrolledOf(open), []);
      const wait = await enroll(a!, a!.id, full);
      assert.deepEqual([wait.status, wait.body.status, wait.body.position], [200, 'waitlisted', 1], wait.text);
      const lines = await http('GET', `/users/${a!.id}/waitlist`, { token: a!.token });
      assert.deepEqual(lines.body.entries.map((e: { section_id: number; replacing_section_id: number }) => [e.section_id, e.replacing_section_id]), [[full, held]], lines.text);
      const drop = await http('DELETE', `/users/${holder!.id}/enrollments/${full}`, { token: holder!.token });
      assert.equal(drop.status, 200, drop.text);
      assert.deepEqual(drop.body.promoted_user_ids, [a!.id]);
      assert.deepEqual(await enrolledOf(full), [a!.id]);
      assert.deepEqual(await enrolledOf(held), [waiting!.id], 'the seat given up went to its line');
      const events = await http('GET', `/users/${a!.id}/enrollment-events?page_size=2`, { token: a!.token });
      assert.deepEqual(events.body.events.map((e: { action: string; section_id: number; actor_id: number }) => [e.action, e.section_id, e.actor_id]), [
        ['promoted', full, 0],
        ['dropped', held, 0],
      ]);
    });

    test('every change to a place in a section is an event the student, the instructor and the registrar can read', async () => {
      const sid = await section(school, { capacity: 1 });
      const [a, b] = await students(2);
      await enroll(a!, a!.id, sid);
      await enroll(b!, b!.id, sid);
      const drop = await http('DELETE', `/sections/${sid}/enrollments/${a!.id}`, { token: school.instructor.token });
      assert.equal(drop.status, 200, drop.text);
      const brief = (events: Array<{ user_id: number; action: string; actor_id: number }>) => events.map((e) => [e.user_id, e.action, e.actor_id]);
      const bySection = await http('GET', `/sections/${sid}/enrollment-events`, { token: school.instructor.token });
      assert.equal(bySection.status, 200, bySection.text);
      assert.deepEqual(brief(bySection.body.events), [
        [b!.id, 'promoted', 0],
        [a!.id, 'dropped', school.instructor.id],
        [b!.id, 'waitlisted', b!.id],
        [a!.id, 'enrolled', a!.id],
      ]);
      const own = await http('GET', `/users/${b!.id}/enrollment-events?page_size=1`, { token: b!.token });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(brief(own.body.events), [[b!.id, 'promoted', 0]]);
      const next = await http('GET', `/users/${b!.id}/enrollment-events?page_size=1&page_token=${own.body.next_page_token}`, { token: school.registrar.token });
      assert.deepEqual(brief(next.body.events), [[b!.id, 'waitlisted', b!.id]]);
      assert.equal((await http('GET', `/users/${b!.id}/enrollment-events`, { token: a!.token })).status, 403, "another student's events");
      assert.equal((await http('GET', `/sections/${sid}/enrollment-events`, { token: b!.token })).status, 403, 'a student reads no section events');
      assert.equal((await http('POST', `/sections/${sid}/enrollment-events`, { token: school.registrar.token, body: {} })).status, 405);
    });

    test('a drop promotes the first waitlisted student without a conflict; the skipped one keeps their place', async () => {
      const { sid, clashing } = await oneSeatAndAClash('Sunday');
      const [holder, busy, free] = await students(3);
      await enroll(holder!, holder!.id, sid);
      assert.equal((await enroll(busy!, busy!.id, sid)).body.position, 1);
      assert.equal((await enroll(free!, free!.id, sid)).body.position, 2);
      // Busy now takes a section that clashes with sid (allowed: waitlists do not hold seats).
      const other = await enroll(busy!, busy!.id, clashing);
      assert.equal(other.status, 200, other.text);
      const drop = await http('DELETE', `/sections/${sid}/enrollments/${holder!.id}`, { token: school.instructor.token });
      assert.equal(drop.status, 200, drop.text);
      assert.deepEqual(drop.body.promoted_user_ids, [free!.id]);
      assert.deepEqual(await enrolledOf(sid), [free!.id]);
      assert.deepEqual((await waitlistOf(sid)).map((e) => [e.user_id, e.position]), [[busy!.id, 1]]);
    });

    test('a seat left free while its only waiting student clashed goes to them once they drop the clash', async () => {
      const { sid, clashing } = await oneSeatAndAClash('Saturday');
      const [holder, busy, late] = await students(3);
      await enroll(holder!, holder!.id, sid);
      assert.equal((await enroll(busy!, busy!.id, sid)).body.position, 1);
      assert.equal((await enroll(busy!, busy!.id, clashing)).status, 200);
      // The holder leaves; the only one waiting clashes, so the seat stays free.
      const drop = await http('DELETE', `/users/${holder!.id}/enrollments/${sid}`, { token: holder!.token });
      assert.equal(drop.status, 200, drop.text);
      assert.deepEqual(drop.body.promoted_user_ids, []);
      assert.deepEqual(await enrolledOf(sid), []);
      // Dropping the clash moves them in before a newcomer can take the seat.
      const free = await http('DELETE', `/users/${busy!.id}/enrollments/${clashing}`, { token: busy!.token });
      assert.equal(free.status, 200, free.text);
      assert.deepEqual(await enrolledOf(sid), [busy!.id]);
      assert.deepEqual(await waitlistOf(sid), []);
      const newcomer = await enroll(late!, late!.id, sid);
      assert.equal(newcomer.body.status, 'waitlisted', newcomer.text);
    });

    test('leaving a waitlist closes up the positions behind', async () => {
      const sid = await section(school, { capacity: 1 });
      const [holder, a, b, c] = await students(4);
      await enroll(holder!, holder!.id, sid);
      for (const s of [a, b, c]) await enroll(s!, s!.id, sid);
      const leave = await http('DELETE', `/users/${a!.id}/waitlist/${sid}`, { token: a!.token });
      assert.equal(leave.status, 200, leave.text);
      assert.deepEqual((await waitlistOf(sid)).map((e) => [e.user_id, e.position]), [[b!.id, 1], [c!.id, 2]]);
      const mine = await http('GET', `/users/${c!.id}/waitlist`, { token: c!.token });
      assert.equal(mine.body.entries[0].position, 2);
    });

    test('capacity: raising promotes, lowering below enrollment is refused', async () => {
      const sid = await section(school, { capacity: 1 });
      const [a, b, c] = await students(3);
      for (const s of [a, b, c]) await enroll(s!, s!.id, sid);
      const lower = await http('PATCH', `/sections/${sid}`, { token: school.registrar.token, body: { capacity: 0 } });
      assert.equal(lower.status, 400, lower.text);
      const raise = await http('PATCH', `/sections/${sid}`, { token: school.registrar.token, body: { capacity: 3 } });
      assert.equal(raise.status, 200, raise.text);
      assert.equal(raise.body.enrolled_count, 3);
      assert.deepEqual(await enrolledOf(sid), [a!.id, b!.id, c!.id].sort((x, y) => x - y));
      const below = await http('PATCH', `/sections/${sid}`, { token: school.registrar.token, body: { capacity: 2 } });
      assert.equal(below.status, 400, 'cannot lower below current enrollment');
    });

    test('the registrar changes the instructor; deleting a section drops its students and hides it', async () => {
      const sid = await section(school, { capacity: 1 });
      const [a, b] = await students(2);
      await enroll(a!, a!.id, sid);
      await enroll(b!, b!.id, sid);
      const change = await http('PATCH', `/sections/${sid}`, { token: school.registrar.token, body: { instructor_id: school.otherInstructor.id } });
      assert.equal(change.body.instructor_id, school.otherInstructor.id);
      const notInstructor = await http('PATCH', `/sections/${sid}`, { token: school.registrar.token, body: { instructor_id: a!.id } });
      assert.equal(notInstructor.status, 400, 'a student cannot teach');

      const del = await http('DELETE', `/sections/${sid}`, { token: school.registrar.token });
      assert.equal(del.status, 200, del.text);
      assert.equal((await http('GET', `/sections/${sid}`, { token: a!.token })).status, 404);
      const listed = await http('GET', `/sections?course_id=${school.courseId}&page_size=500`, { token: a!.token });
      assert.ok(!listed.body.sections.some((s: { id: number }) => s.id === sid), 'deleted sections leave listings');
      const mine = await http('GET', `/users/${a!.id}/enrollments?status=enrolled`, { token: a!.token });
      assert.ok(!mine.body.enrollments.some((e: { section_id: number }) => e.section_id === sid));
      const waiting = await http('GET', `/users/${b!.id}/waitlist`, { token: b!.token });
      assert.deepEqual(waiting.body.entries, []);
    });

    test('the registrar renames a course and its department, and deletes empty ones; the catalogue shows it at once, codes and names stay unique', async () => {
      const t = school.registrar.token;
      const code = `RN ${Math.floor(Math.random() * 1e6)}`;
      const course = await http('POST', '/courses', { token: t, body: { code, name: 'Before', department_id: school.departmentId } });
      assert.equal(course.status, 200, course.text);
      const sid = await section({ ...school, courseId: course.body.id });
      const listing = () => http('GET', `/sections?course_id=${course.body.id}&view=full`, { token: school.student.token });
      assert.equal((await listing()).body.sections[0].course_code, code, 'the listing is read (and kept) before the change');

      const newCode = `${code}X`;
      const changed = await http('PATCH', `/courses/${course.body.id}`, { token: t, body: { code: newCode, name: 'After' } });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual({ code: changed.body.code, name: changed.body.name, department_id: changed.body.department_id }, { code: newCode, name: 'After', department_id: school.departmentId });
      const [listed] = (await listing()).body.sections;
      assert.deepEqual([listed.course_code, listed.course_name], [newCode, 'After']);
      assert.equal((await http('GET', `/sections/${sid}`, { token: school.student.token })).body.course_code, newCode);
      // The basic view (a listing's default) leaves the names out.
      const basic = (await http('GET', `/sections?course_id=${course.body.id}`, { token: school.student.token })).body.sections[0];
      const fullOnly = ['course_name', 'course_credits', 'department_id', 'department_name', 'instructor_username', 'instructor_name'];
      assert.deepEqual(Object.keys(basic).filter((k) => fullOnly.includes(k)), []);
      assert.equal(basic.course_code, newCode);
      assert.equal((await http('GET', '/sections?view=everything', { token: school.student.token })).status, 400);
      // A section names its instructor too, as registered.
      const teacher = (await http('GET', `/users/${school.instructor.id}`, { token: t })).body;
      assert.deepEqual([listed.instructor_username, listed.instructor_name], [school.instructor.username, `${teacher.first_name} ${teacher.last_name}`]);

      const taken = await http('PATCH', `/courses/${course.body.id}`, { token: t, body: { code: (await http('GET', `/courses/${school.courseId}`, { token: t })).body.code } });
      assert.equal(taken.status, 409, taken.text);
      assert.equal((await http('PATCH', `/courses/${course.body.id}`, { token: t, body: { department_id: 999999 } })).status, 404);
      assert.equal((await http('PATCH', `/courses/${course.body.id}`, { token: t, body: { name: '' } })).status, 400);
      assert.equal((await http('GET', `/courses/${course.body.id}`, { token: t })).body.name, 'After', 'refused changes change nothing');

      // A course with sections, or a department with courses, cannot be deleted; empty ones can.
      assert.equal((await http('DELETE', `/courses/${course.body.id}`, { token: t })).status, 400);
      assert.equal((await http('DELETE', `/departments/${school.departmentId}`, { token: t })).status, 400);
      const spare = await http('POST', '/departments', { token: t, body: { name: `Spare ${Math.random()}` } });
      const bare = await http('POST', '/courses', { token: t, body: { code: `B ${Math.floor(Math.random() * 1e6)}`, name: 'Bare', department_id: spare.body.id } });
      assert.equal((await http('DELETE', `/departments/${spare.body.id}`, { token: t })).status, 400, 'it has a course');
      assert.equal((await http('DELETE', `/courses/${bare.body.id}`, { token: school.student.token })).status, 403);
      assert.equal((await http('DELETE', `/courses/${bare.body.id}`, { token: t })).status, 200);
      assert.equal((await http('GET', `/courses/${bare.body.id}`, { token: t })).status, 404);
      assert.equal((await http('DELETE', `/departments/${spare.body.id}`, { token: t })).status, 200);
      assert.equal((await http('GET', `/departments/${spare.body.id}`, { token: t })).status, 404);

      const deptName = `Renamed ${Math.random()}`;
      const renamed = await http('PATCH', `/departments/${school.departmentId}`, { token: t, body: { name: deptName } });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal((await http('GET', `/courses/${course.body.id}`, { token: school.student.token })).body.department_name, deptName);
      assert.equal((await listing()).body.sections[0].department_name, deptName, 'the kept listing follows the rename');
    });

    test('the registrar makes a student an instructor: a section can name them at once, and their next token carries the role', async () => {
      const t = school.registrar.token;
      const username = `promoted${Math.floor(Math.random() * 1e9)}`;
      const reg = await http('POST', '/register', { body: { username, email: `${username}@example.edu`, first_name: 'Pro', last_name: 'Moted', password: 'a long password' } });
      assert.equal(reg.status, 200, reg.text);
      const id = reg.body.user_id as number;
      const login = await http('POST', '/login', { body: { username, password: 'a long password' } });
      assert.equal(login.status, 200, login.text);

      const asStudent = await http('POST', '/sections', { token: t, body: { course_id: school.courseId, classroom: 'P1', capacity: 5, day: 'Sunday', begin_time: '06:00', end_time: '07:00', instructor_id: id } });
      assert.equal(asStudent.status, 400, 'a student cannot teach');
      assert.equal((await http('PUT', `/users/${id}/roles`, { token: login.body.access_token, body: { roles: ['instructor'] } })).status, 403);

      const promoted = await http('PUT', `/users/${id}/roles`, { token: t, body: { roles: ['instructor'] } });
      assert.equal(promoted.status, 200, promoted.text);
      assert.deepEqual(promoted.body.roles, ['instructor']);
      const created = await http('POST', '/sections', { token: t, body: { course_id: school.courseId, classroom: 'P1', capacity: 5, day: 'Sunday', begin_time: '06:00', end_time: '07:00', instructor_id: id } });
      assert.equal(created.status, 200, created.text);
      assert.deepEqual((await http('GET', `/users/${id}`, { token: t })).body.roles, ['instructor'], "the enrollment service's copy follows");

      // The old token still says student until it expires; a refreshed one says instructor.
      const roster = (token: string) => http('GET', `/sections/${created.body.id}/enrollments`, { token });
      assert.equal((await roster(login.body.access_token)).status, 403);
      const refreshed = await http('POST', '/token', { body: { refresh_token: login.body.refresh_token } });
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.equal((await roster(refreshed.body.access_token)).status, 200);

      // They change their name; the section's full view follows within the 2 s pull.
      const renamed = await http('PATCH', '/me', { token: refreshed.body.access_token, body: { last_name: 'Renamed' } });
      assert.equal(renamed.status, 200, renamed.text);
      assert.deepEqual([renamed.body.first_name, renamed.body.last_name], ['Pro', 'Renamed']);
      await waitUntil(
        async () => (await http('GET', `/sections/${created.body.id}`, { token: t })).body.instructor_name === 'Pro Renamed',
        10_000,
        { what: "the section to show the instructor's new name" },
      );
      assert.equal((await http('PATCH', '/me', { token: refreshed.body.access_token, body: { email: 'no-at-sign' } })).status, 400);
      const takenEmail = `${school.student.username}@example.edu`;
      assert.equal((await http('PATCH', '/me', { token: refreshed.body.access_token, body: { email: takenEmail } })).status, 409);

      assert.equal((await http('PUT', `/users/${id}/roles`, { token: t, body: { roles: ['dean'] } })).status, 400);
      assert.equal((await http('PUT', `/users/${id}/roles`, { token: t, body: { roles: [] } })).status, 400);
      assert.equal((await http('PUT', '/users/999999/roles', { token: t, body: { roles: ['student'] } })).status, 404);
      const me = (await http('GET', '/me', { token: t })).body.user_id as number;
      assert.equal((await http('PUT', `/users/${me}/roles`, { token: t, body: { roles: ['instructor'] } })).status, 400, 'the registrar keeps their own role');
      assert.equal((await http('GET', `/users/${id}/roles`, { token: t })).status, 405);
    });

    test('unknown ids are 404, malformed input is 400 naming the field, times are validated', async () => {
      const [s] = await students(1);
      const t = school.registrar.token;
      assert.equal((await http('GET', '/departments/999999', { token: t })).status, 404);
      assert.equal((await http('PUT', `/departments/${school.departmentId}`, { token: t, body: {} })).status, 405);
      assert.equal((await http('POST', `/courses/${school.courseId}/prerequisites`, { token: t, body: {} })).status, 405);
      assert.equal((await http('GET', `/sections/1/enrollments/${s!.id}/grade`, { token: t })).status, 405);
      assert.equal((await http('GET', '/courses/999999/prerequisites', { token: t })).status, 404);
      assert.equal((await http('GET', '/courses/999999', { token: t })).status, 404);
      assert.equal((await http('GET', '/sections/999999', { token: t })).status, 404);
      assert.equal((await enroll(s!, s!.id, 999999)).status, 404);
      // Ids inside a body too: an unknown course or instructor is 404, a student named as instructor 400.
      const sectionBody = { course_id: school.courseId, classroom: 'X', capacity: 10, day: 'Monday', begin_time: '10:00', end_time: '11:00', instructor_id: school.instructor.id };
      for (const [patch, status] of [[{ course_id: 999999 }, 404], [{ instructor_id: 999999 }, 404], [{ instructor_id: s!.id }, 400]] as const) {
        const res = await http('POST', '/sections', { token: t, body: { ...sectionBody, ...patch } });
        assert.equal(res.status, status, `${JSON.stringify(patch)}: ${res.text}`);
        assert.match(res.body.message, new RegExp(Object.keys(patch)[0] === 'course_id' ? 'course 999999' : 'instructor_id'), res.text);
      }
      const cases: Array<[string, Record<string, unknown>]> = [
        ['day', { day: 'Funday' }],
        ['begin_time', { begin_time: '25:00' }],
        ['end_time', { begin_time: '10:00', end_time: '09:00' }],
        ['capacity', { capacity: -1 }],
      ];
      for (const [field, patch] of cases) {
        const body = { course_id: school.courseId, classroom: 'X', capacity: 10, day: 'Monday', begin_time: '10:00', end_time: '11:00', instructor_id: school.instructor.id, ...patch };
        const res = await http('POST', '/sections', { token: t, body });
        assert.equal(res.status, 400, `${field}: ${res.text}`);
        assert.match(res.body.message, new RegExp(field.replace('_time', '')), `the error names ${field}`);
      }
      // Control characters in a name (here a NUL, sent as JSON's \u0000) are refused, naming the field.
      const nul = await http('POST', '/departments', { token: t, body: { name: 'Math\u0000' } });
      assert.equal(nul.status, 400, nul.text);
      assert.match(nul.body.message, /^name: must not contain control characters/);
      // A query Envoy cannot map is refused before the request is transcoded; it still gets the JSON shape.
      const badQuery = await http('GET', '/sections?course_id=abc', { token: t });
      assert.equal(badQuery.status, 400);
      assert.equal(badQuery.body?.code, Status.INVALID_ARGUMENT, badQuery.text);
      assert.match(badQuery.body.message, /course_id/, 'the error names the parameter');
      const unknownParam = await http('GET', '/sections?colour=red', { token: t });
      assert.equal(unknownParam.status, 400);
      assert.match(unknownParam.body?.message ?? '', /colour/, unknownParam.text);
      assert.equal((await http('GET', '/sections?page_token=garbage!', { token: t })).status, 400);
      assert.equal((await http('GET', `/users/${s!.id}/sections?type=teaching`, { token: s!.token })).status, 400);
    });

    test("a body field the request does not have is refused with 400 naming it, and nothing is stored; JSON (lowerCamel) names work as proto names", async () => {
      const t = school.registrar.token;
      const classroom = `Misspelt ${Date.now()}`;
      const body = { course_id: school.courseId, classroom, capacity: 10, day: 'Sunday', begin_time: '05:00', end_time: '05:50', instructor_id: school.instructor.id };
      // Envoy's transcoder alone would drop the field and create a section with no waitlist.
      const misspelt = await http('POST', '/sections', { token: t, body: { ...body, waitlist_capasity: 5 } });
      assert.equal(misspelt.status, 400, misspelt.text);
      assert.deepEqual(misspelt.body, { code: Status.INVALID_ARGUMENT, message: "waitlist_capasity: no such field in this request's body" });
      // Nothing was created: the same classroom at the same time is still free.
      const created = await http('POST', '/sections', { token: t, body: { ...body, waitlistCapacity: 5 } });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.body.waitlist_capacity, 5, 'the JSON name of waitlist_capacity is taken as it');
      const patched = await http('PATCH', `/sections/${created.body.id}`, { token: t, body: { capacity: 12, frozn: true } });
      assert.equal(patched.status, 400, patched.text);
      assert.match(patched.body.message, /^frozn: /);
      const after = await http('GET', `/sections/${created.body.id}`, { token: t });
      assert.deepEqual([after.body.capacity, after.body.frozen ?? false], [10, false], 'the refused change changed nothing');
      // Too large a body is 413 with the same JSON shape, with a length or sent in chunks,
      // every time: the request-fields filter enforces 64 KiB on the whole body. The
      // transcoder's own limit bounds its buffer, so a 100 KB body arriving in pieces it
      // could translate as they came passed it, and over 256 KiB the service answered
      // RESOURCE_EXHAUSTED, a 429 that tells a client to retry. Over Envoy's 1 MiB buffer,
      // a body sent in chunks gets Envoy's own 413, in the same shape.
      for (const size of [100_000, 300_000, 2_000_000]) {
        const body = JSON.stringify({ name: 'x'.repeat(size) });
        for (const chunked of [false, true]) {
          const label = `${size} bytes ${chunked ? 'chunked' : 'with a length'}`;
          const pieces = Array.from({ length: Math.ceil(body.length / 16_384) }, (_, i) => body.slice(i * 16_384, (i + 1) * 16_384));
          const res = await fetch(`${ENVOY_HTTP}/departments`, {
            method: 'POST',
            headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
            body: chunked ? streamOf(...pieces) : body,
            ...(chunked ? { duplex: 'half' } : {}),
          } as RequestInit);
          assert.equal(res.status, 413, label);
          const overBuffer = chunked && size > 1_048_576;
          const message = overBuffer ? 'Payload Too Large' : 'the request body must be at most 65536 bytes';
          assert.deepEqual(await res.json(), { code: Status.INVALID_ARGUMENT, message }, label);
        }
      }
      // The auth service's routes too, before any account is made.
      const username = uniqueName('misspelt');
      const register = await http('POST', '/register', { body: { username, emial: `${username}@example.edu`, password: 'a long password' } });
      assert.equal(register.status, 400, register.text);
      assert.match(register.body.message, /^emial: no such field/);
      const login = await http('POST', '/login', { body: { username, password: 'a long password' } });
      assert.equal(login.status, 401, 'no account was made');
    });


    test('a body or query that names another record than its path, or gives a field twice, is refused with 400 and changes nothing', async () => {
      const t = school.registrar.token;
      const make = async (name: string) => (await http('POST', '/departments', { token: t, body: { name: uniqueName(name) } })).body as { id: number; name: string };
      const [one, two] = [await make('PathOne'), await make('PathTwo')];
      // The transcoder alone lets a query parameter win over the path: this deleted department two.
      const deleted = await http('DELETE', `/departments/${one.id}?department_id=${two.id}`, { token: t });
      assert.equal(deleted.status, 400, deleted.text);
      assert.deepEqual(deleted.body, { code: Status.INVALID_ARGUMENT, message: 'department_id: set by the path; the query must not set it' });
      const read = await http('GET', `/departments/${one.id}?departmentId=${two.id}`, { token: t });
      assert.equal(read.status, 400, read.text);
      // A trailing slash is the same path to the transcoder, and so to the check.
      const slashed = await http('DELETE', `/departments/${one.id}/?department_id=${two.id}`, { token: t });
      assert.equal(slashed.status, 400, slashed.text);
      // ... and with body "*", took a body field from the query.
      const queried = await http('PATCH', `/departments/${one.id}?name=Queried`, { token: t, body: {} });
      assert.equal(queried.status, 400, queried.text);
      assert.deepEqual(queried.body, { code: Status.INVALID_ARGUMENT, message: 'name: a field of the body; the query must not set it' });
      const listedTwice = await http('GET', '/departments?page_size=1&page_size=2', { token: t });
      assert.equal(listedTwice.status, 400, listedTwice.text);
      assert.deepEqual(listedTwice.body, { code: Status.INVALID_ARGUMENT, message: 'page_size: this parameter is given more than once' });
      // The transcoder alone lets the body's department_id win over the path's: this renamed department two.
      const crossed = await http('PATCH', `/departments/${one.id}`, { token: t, body: { department_id: two.id, name: 'Crossed' } });
      assert.equal(crossed.status, 400, crossed.text);
      assert.deepEqual(crossed.body, { code: Status.INVALID_ARGUMENT, message: 'department_id: set by the path; the body must not set it' });
      const twice = await http('PATCH', `/departments/${one.id}`, { token: t, body: '{"name":"First","name":"Second"}' });
      assert.equal(twice.status, 400, twice.text);
      assert.deepEqual(twice.body, { code: Status.INVALID_ARGUMENT, message: 'name: this field is given more than once' });
      // The transcoder alone reads a body sent with a GET or a DELETE, whose routes take
      // none, over the path too: this deleted department two.
      const noBody = { code: Status.INVALID_ARGUMENT, message: 'this request takes no body: its fields go in the path and the query' };
      const bodied = await http('DELETE', `/departments/${one.id}`, { token: t, body: { department_id: two.id } });
      assert.equal(bodied.status, 400, bodied.text);
      assert.deepEqual(bodied.body, noBody);
      const auth = { authorization: `Bearer ${t}` };
      const readWithBody = await httpRaw('GET', `/departments/${one.id}`, `{"department_id":${two.id}}`, { headers: auth });
      assert.deepEqual([readWithBody.status, JSON.parse(readWithBody.text)], [400, noBody]);
      // An empty object says nothing, and passes.
      const readWithEmpty = await httpRaw('GET', `/departments/${one.id}`, '{}', { headers: auth });
      assert.deepEqual([readWithEmpty.status, JSON.parse(readWithEmpty.text)], [200, one]);
      for (const department of [one, two]) {
        const stored = await http('GET', `/departments/${department.id}`, { token: t });
        assert.deepEqual(stored.body, department, 'both departments keep their names');
      }
      // The path's record is the one a PATCH changes.
      const renamed = await http('PATCH', `/departments/${one.id}`, { token: t, body: { name: `${one.name} Renamed` } });
      assert.deepEqual(renamed.body, { id: one.id, name: `${one.name} Renamed` });
    });
    test('the catalogue filters sections by instructor, department, day and availability', async () => {
      const teacher = await person('instructor', school.registrar.token, 'filtered');
      const full = await section(school, { capacity: 1, waitlist_capacity: 0, day: 'Friday', instructor: teacher });
      const waitlisting = await section(school, { capacity: 1, day: 'Saturday', instructor: teacher });
      const free = await section(school, { day: 'Saturday', begin_time: '05:00', end_time: '05:50', instructor: teacher });
      const [a, b] = await students(2);
      await enroll(a!, a!.id, full);
      await enroll(b!, b!.id, waitlisting);
      const list = async (query: string) => {
        const res = await http('GET', `/sections?instructor_id=${teacher.id}&${query}`, { token: a!.token });
        assert.equal(res.status, 200, res.text);
        return res.body.sections.map((x: { id: number }) => x.id);
      };
      assert.deepEqual(await list(`department_id=${school.departmentId}`), [full, waitlisting, free]);
      assert.deepEqual(await list('day=saturday'), [waitlisting, free]);
      assert.deepEqual(await list('availability=seats'), [free]);
      assert.deepEqual(await list('availability=open'), [waitlisting, free]);
      assert.deepEqual(await list('availability=open&day=Friday'), []);
      const bad = await http('GET', '/sections?availability=full', { token: a!.token });
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.body.message, /availability/);
    });

    test('the catalogue searches courses by words of their code and name', async () => {
      const word = `zq${Date.now().toString(36)}`;
      const t = school.registrar.token;
      const created = await http('POST', '/courses', { token: t, body: { code: `S${Date.now() % 1e8}`, name: `Topics in ${word.toUpperCase()} Systems`, department_id: school.departmentId } });
      assert.equal(created.status, 200, created.text);
      const search = async (query: string) => {
        const res = await http('GET', `/courses?query=${encodeURIComponent(query)}`, { token: school.student.token });
        assert.equal(res.status, 200, res.text);
        return res.body.courses.map((c: { id: number }) => c.id);
      };
      assert.deepEqual(await search(word), [created.body.id]);
      assert.deepEqual(await search(`systems ${word} topics`), [created.body.id]);
      const plus = await http('GET', `/courses?query=${word}+systems`, { token: school.student.token });
      assert.deepEqual(plus.body.courses.map((c: { id: number }) => c.id), [created.body.id], "a '+' in the query string is a space");
      assert.deepEqual(await search(`${word} nowhere`), []);
      const tooMany = await http('GET', '/courses?query=a+b+c+d+e+f', { token: school.student.token });
      assert.equal(tooMany.status, 400, tooMany.text);
      assert.match(tooMany.body.message, /query/);
    });

    test('lists are paginated with a stable order', async () => {
      const seen: number[] = [];
      let token = '';
      do {
        const page = await http('GET', `/sections?course_id=${school.courseId}&page_size=2${token ? `&page_token=${token}` : ''}`, { token: school.student.token });
        assert.equal(page.status, 200, page.text);
        assert.ok(page.body.sections.length <= 2);
        seen.push(...page.body.sections.map((s: { id: number }) => s.id));
        token = page.body.next_page_token;
      } while (token);
      assert.ok(seen.length >= 3);
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
      assert.equal(new Set(seen).size, seen.length);
    });
  });

  describe('the main paths over native gRPC through Envoy', () => {
    test('create a section, enroll, see it, drop', async () => {
      const client = enrollClient();
      try {
        const created = await call(client, 'CreateSection', { course_id: school.courseId, classroom: 'G1', capacity: 1, day: 'Monday', begin_time: '05:00', end_time: '05:30', instructor_id: school.instructor.id }, { token: school.registrar.token });
        assert.equal(created.error, undefined, created.error?.details);
        assert.ok(created.headers.get('x-txid')[0], 'writes carry their TXID');
        const sid = created.response.id;
        const [a, b] = await students(2);
        const e1 = await call(client, 'CreateEnrollment', { user_id: a!.id, section_id: sid }, { token: a!.token });
        assert.equal(e1.response?.status, 'enrolled', e1.error?.details);
        const e2 = await call(client, 'CreateEnrollment', { user_id: b!.id, section_id: sid }, { token: b!.token });
        assert.equal(e2.response?.status, 'waitlisted');
        const denied = await call(client, 'CreateEnrollment', { user_id: a!.id, section_id: sid }, { token: b!.token });
        assert.equal(denied.error?.code, Status.PERMISSION_DENIED);
        const mine = await call(client, 'ListUserSections', { user_id: a!.id }, { token: a!.token });
        assert.deepEqual(mine.response.sections.map((s: { id: number }) => s.id), [sid]);
        const drop = await call(client, 'DropUserEnrollment', { user_id: a!.id, section_id: sid }, { token: a!.token });
        assert.deepEqual(drop.response?.promoted_user_ids, [b!.id]);
        const missing = await call(client, 'GetSection', { section_id: 987654 }, { token: a!.token });
        assert.equal(missing.error?.code, Status.NOT_FOUND);
      } finally {
        client.close();
      }
    });

    test('prerequisites and the registration period: read by anyone, set by the registrar only', async () => {
      const client = enrollClient();
      try {
        const [s] = await students(1);
        const basics = await course(school, 'Basics over gRPC');
        const next = await course(school, 'Next over gRPC');
        const set = await call(client, 'SetCoursePrerequisites', { course_id: next.id, prerequisite_ids: [basics.id] }, { token: school.registrar.token });
        assert.equal(set.error, undefined, set.error?.details);
        const read = await call(client, 'ListCoursePrerequisites', { course_id: next.id }, { token: s!.token });
        assert.deepEqual(read.response?.prerequisites.map((c: { id: number }) => c.id), [basics.id]);
        const byStudent = await call(client, 'SetCoursePrerequisites', { course_id: next.id, prerequisite_ids: [] }, { token: s!.token });
        assert.equal(byStudent.error?.code, Status.PERMISSION_DENIED, 'Envoy refuses a student');
        const period = await call(client, 'GetRegistrationPeriod', {}, { token: s!.token });
        assert.equal(period.response?.open, true, period.error?.details);
        const closeIt = await call(client, 'SetRegistrationPeriod', { closes_at: '2020-01-01T00:00:00Z' }, { token: s!.token });
        assert.equal(closeIt.error?.code, Status.PERMISSION_DENIED);
        const circle = await call(client, 'SetCoursePrerequisites', { course_id: basics.id, prerequisite_ids: [next.id] }, { token: school.registrar.token });
        assert.equal(circle.error?.code, Status.FAILED_PRECONDITION);
      } finally {
        client.close();
      }
    });
  });

  describe('idempotency keys: a write sent again is done once', () => {
    const key = () => `key-${randomUUID()}`;

    test('over HTTP/JSON: the repeat gets the first answer, marked replayed; another request with the key is refused; a refusal is not kept', async () => {
      const sid = await section(school, { capacity: 1 });
      const [a, b] = await students(2);
      const k = key();
      const first = await http('POST', `/users/${a!.id}/enrollments`, { token: a!.token, body: { section_id: sid }, headers: { 'idempotency-key': k } });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      const again = await http('POST', `/users/${a!.id}/enrollments`, { token: a!.token, body: { section_id: sid }, headers: { 'idempotency-key': k } });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      // Without the key the same request is a new one: already enrolled.
      assert.equal((await enroll(a!, a!.id, sid)).status, 409);
      assert.deepEqual(await enrolledOf(sid), [a!.id]);
      const other = await http('POST', `/users/${a!.id}/enrollments`, { token: a!.token, body: { section_id: sid + 1 }, headers: { 'idempotency-key': k } });
      assert.equal(other.status, 400, other.text);
      assert.match(other.body.message, /idempotency-key: this key was already used for a different request/);
      const malformed = await http('POST', `/users/${a!.id}/enrollments`, { token: a!.token, body: { section_id: sid }, headers: { 'idempotency-key': 'x'.repeat(256) } });
      assert.equal(malformed.status, 400, malformed.text);

      // The registrar's hold: sent three times, placed once.
      const reg = school.registrar.token;
      const hk = key();
      const holds = [];
      for (let i = 0; i < 3; i++) holds.push(await http('POST', `/users/${b!.id}/holds`, { token: reg, body: { reason: 'library fine' }, headers: { 'idempotency-key': hk } }));
      assert.deepEqual(holds.map((h) => h.status), [200, 200, 200]);
      assert.equal(new Set(holds.map((h) => h.body.id)).size, 1);
      const listed = await http('GET', `/users/${b!.id}/holds`, { token: reg });
      assert.equal(listed.body.holds.length, 1);
      // Refused while held (nothing kept), then, once released, the same key and request succeed.
      const ek = key();
      const held = await http('POST', `/users/${b!.id}/enrollments`, { token: b!.token, body: { section_id: sid }, headers: { 'idempotency-key': ek } });
      assert.equal(held.status, 400, held.text);
      assert.equal((await http('DELETE', `/users/${b!.id}/holds/${holds[0]!.body.id}`, { token: reg })).status, 200);
      const retried = await http('POST', `/users/${b!.id}/enrollments`, { token: b!.token, body: { section_id: sid }, headers: { 'idempotency-key': ek } });
      assert.equal(retried.status, 200, retried.text);
      assert.deepEqual([retried.body.status, retried.headers.get('idempotent-replayed')], ['waitlisted', null]);
    });

    test('the same key sent at once through Envoy: one section is created, and every answer names it', async () => {
      const k = key();
      const body = { course_id: school.courseId, classroom: `IK-${randomUUID().slice(0, 8)}`, capacity: 5, day: 'Sunday', begin_time: '01:00', end_time: '01:50', instructor_id: school.otherInstructor.id };
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => http('POST', '/sections', { token: school.registrar.token, body, headers: { 'idempotency-key': k } })),
      );
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200], answers.map((a) => a.text).join('\n'));
      assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
      assert.equal(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true').length, 5);
      const inRoom = await http('GET', `/sections?page_size=100`, { token: school.registrar.token });
      assert.equal(inRoom.status, 200, inRoom.text);
      const sections = [];
      for (let page = inRoom; ; ) {
        sections.push(...page.body.sections.filter((x: { classroom: string }) => x.classroom === body.classroom));
        if (!page.body.next_page_token) break;
        page = await http('GET', `/sections?page_size=100&page_token=${encodeURIComponent(page.body.next_page_token)}`, { token: school.registrar.token });
      }
      assert.equal(sections.length, 1);
    });

    test("over gRPC on a replica: forwarded to the primary, and the replica passes the primary's replayed mark on", async () => {
      const client = enrollClient(env.cluster.node(2).enrollGrpc);
      try {
        const sid = await section(school);
        const [s] = await students(1);
        const metadata = { 'idempotency-key': key() };
        const first = await call(client, 'CreateEnrollment', { user_id: s!.id, section_id: sid }, { token: s!.token, metadata });
        assert.equal(first.error, undefined, first.error?.details);
        const again = await call(client, 'CreateEnrollment', { user_id: s!.id, section_id: sid }, { token: s!.token, metadata });
        assert.equal(again.error, undefined, again.error?.details);
        assert.deepEqual(again.response, first.response);
        assert.deepEqual(first.headers.get('idempotent-replayed'), []);
        assert.deepEqual(again.headers.get('idempotent-replayed'), ['true']);
        assert.ok(again.headers.get('x-txid')[0], 'a replayed answer carries a TXID to read at');
        assert.deepEqual(await enrolledOf(sid), [s!.id]);
      } finally {
        client.close();
      }
    });
  });

  type Actor = 'student' | 'otherStudent' | 'instructor' | 'otherInstructor' | 'registrar';
  const ACTORS: Actor[] = ['student', 'otherStudent', 'instructor', 'otherInstructor', 'registrar'];

  describe('the permission matrix', () => {
    let sid: number;
    before(async () => {
      sid = await section(school, { capacity: 1 });
    });

    /** The student is enrolled in sid (ungraded) and otherStudent waits for it, before each call. */
    async function reset(): Promise<void> {
      const t = school.registrar.token;
      await http('PUT', `/sections/${sid}/enrollments/${school.student.id}/grade`, { token: t, body: { grade: '' } });
      await http('DELETE', `/users/${school.student.id}/enrollments/${sid}`, { token: t });
      await http('DELETE', `/users/${school.otherStudent.id}/enrollments/${sid}`, { token: t });
      await http('DELETE', `/users/${school.otherStudent.id}/waitlist/${sid}`, { token: t });
      const a = await enroll(school.student, school.student.id, sid);
      assert.equal(a.body?.status, 'enrolled', a.text);
      const b = await enroll(school.otherStudent, school.otherStudent.id, sid);
      assert.equal(b.body?.status, 'waitlisted', b.text);
    }

    const stu = () => school.student.id;
    const unique = () => `${Date.now() % 1e9}${Math.floor(Math.random() * 1000)}`;
    /** A department with no courses, and a course that never had a section: what the registrar may delete. */
    async function emptyDepartment(): Promise<number> {
      const res = await http('POST', '/departments', { token: school.registrar.token, body: { name: `Empty ${unique()}` } });
      assert.equal(res.status, 200, res.text);
      return res.body.id;
    }
    async function bareCourse(): Promise<number> {
      const res = await http('POST', '/courses', { token: school.registrar.token, body: { code: `B${unique()}`, name: 'Bare', department_id: school.departmentId } });
      assert.equal(res.status, 200, res.text);
      return res.body.id;
    }
    const routes: Array<{ name: string; allowed: Actor[]; mutates?: boolean; request: () => [string, string, unknown?] | Promise<[string, string, unknown?]> }> = [
      { name: 'GET /departments', allowed: ACTORS, request: () => ['GET', '/departments'] },
      { name: 'POST /departments', allowed: ['registrar'], mutates: true, request: () => ['POST', '/departments', { name: `D-${Math.random()}` }] },
      { name: 'GET /departments/{id}', allowed: ACTORS, request: () => ['GET', `/departments/${school.departmentId}`] },
      { name: 'PATCH /departments/{id}', allowed: ['registrar'], mutates: true, request: () => ['PATCH', `/departments/${school.departmentId}`, { name: `D-${Math.random()}` }] },
      { name: 'DELETE /departments/{id}', allowed: ['registrar'], mutates: true, request: async () => ['DELETE', `/departments/${await emptyDepartment()}`] },
      { name: 'GET /courses', allowed: ACTORS, request: () => ['GET', '/courses'] },
      { name: 'POST /courses', allowed: ['registrar'], mutates: true, request: () => ['POST', '/courses', { code: `M${Date.now() % 1e9}${Math.floor(Math.random() * 1000)}`, name: 'x', department_id: school.departmentId }] },
      { name: 'GET /courses/{id}', allowed: ACTORS, request: () => ['GET', `/courses/${school.courseId}`] },
      { name: 'PATCH /courses/{id}', allowed: ['registrar'], mutates: true, request: () => ['PATCH', `/courses/${school.courseId}`, { name: `C-${Math.random()}` }] },
      { name: 'DELETE /courses/{id}', allowed: ['registrar'], mutates: true, request: async () => ['DELETE', `/courses/${await bareCourse()}`] },
      { name: 'GET /courses/{id}/prerequisites', allowed: ACTORS, request: () => ['GET', `/courses/${school.courseId}/prerequisites`] },
      { name: 'PUT /courses/{id}/prerequisites', allowed: ['registrar'], mutates: true, request: async () => ['PUT', `/courses/${await bareCourse()}/prerequisites`, { prerequisite_ids: [await bareCourse()] }] },
      { name: 'GET /courses/{id}/waitlist', allowed: ['instructor', 'otherInstructor', 'registrar'], request: () => ['GET', `/courses/${school.courseId}/waitlist`] },
      { name: 'GET /sections', allowed: ACTORS, request: () => ['GET', '/sections'] },
      { name: 'POST /sections', allowed: ['registrar'], mutates: true, request: () => ['POST', '/sections', { course_id: school.courseId, classroom: 'M', capacity: 5, day: 'Monday', begin_time: '01:00', end_time: '01:10', instructor_id: school.instructor.id }] },
      { name: 'GET /sections/{id}', allowed: ACTORS, request: () => ['GET', `/sections/${sid}`] },
      { name: 'PATCH /sections/{id}', allowed: ['registrar'], mutates: true, request: () => ['PATCH', `/sections/${sid}`, { classroom: 'CS102' }] },
      { name: 'DELETE /sections/{id}', allowed: ['registrar'], mutates: true, request: async () => ['DELETE', `/sections/${await section(school)}`] },
      { name: 'GET /sections/{id}/enrollments', allowed: ['instructor', 'registrar'], request: () => ['GET', `/sections/${sid}/enrollments`] },
      { name: 'GET /sections/{id}/enrollment-events', allowed: ['instructor', 'registrar'], request: () => ['GET', `/sections/${sid}/enrollment-events`] },
      { name: 'GET /sections/{id}/waitlist', allowed: ['instructor', 'registrar'], request: () => ['GET', `/sections/${sid}/waitlist`] },
      { name: 'DELETE /sections/{id}/enrollments/{uid}', allowed: ['instructor', 'registrar'], mutates: true, request: () => ['DELETE', `/sections/${sid}/enrollments/${stu()}`] },
      { name: 'PUT /sections/{id}/enrollments/{uid}/grade', allowed: ['instructor', 'registrar'], mutates: true, request: () => ['PUT', `/sections/${sid}/enrollments/${stu()}/grade`, { grade: 'B' }] },
      { name: 'GET /users', allowed: ['registrar'], request: () => ['GET', '/users'] },
      { name: 'GET /users/{id}', allowed: ['student', 'registrar'], request: () => ['GET', `/users/${stu()}`] },
      { name: 'GET /users/{id}/enrollments', allowed: ['student', 'registrar'], request: () => ['GET', `/users/${stu()}/enrollments`] },
      { name: 'GET /users/{id}/enrollment-events', allowed: ['student', 'registrar'], request: () => ['GET', `/users/${stu()}/enrollment-events`] },
      { name: 'GET /users/{id}/transcript', allowed: ['student', 'registrar'], request: () => ['GET', `/users/${stu()}/transcript`] },
      { name: 'POST /users/{id}/enrollments', allowed: ['student', 'registrar'], mutates: true, request: async () => ['POST', `/users/${stu()}/enrollments`, { section_id: await section(school, { course_id: (await course(school)).id }) }] },
      { name: 'DELETE /users/{id}/enrollments/{sid}', allowed: ['student', 'registrar'], mutates: true, request: () => ['DELETE', `/users/${stu()}/enrollments/${sid}`] },
      { name: 'GET /users/{id}/sections', allowed: ['student', 'registrar'], request: () => ['GET', `/users/${stu()}/sections`] },
      { name: 'GET /users/{id}/waitlist', allowed: ['student', 'registrar'], request: () => ['GET', `/users/${stu()}/waitlist`] },
      { name: 'GET /users/{id}/holds', allowed: ['student', 'registrar'], request: () => ['GET', `/users/${stu()}/holds`] },
      // Holds go on students of their own, so that the student of the other rows is never held.
      { name: 'POST /users/{id}/holds', allowed: ['registrar'], mutates: true, request: async () => ['POST', `/users/${(await students(1))[0]!.id}/holds`, { reason: 'fees' }] },
      { name: 'DELETE /users/{id}/holds/{hid}', allowed: ['registrar'], mutates: true, request: async () => {
        const [held] = await students(1);
        const placed = await http('POST', `/users/${held!.id}/holds`, { token: school.registrar.token, body: { reason: 'fees' } });
        assert.equal(placed.status, 200, placed.text);
        return ['DELETE', `/users/${held!.id}/holds/${placed.body.id}`];
      } },
      { name: 'GET /registration-period', allowed: ACTORS, request: () => ['GET', '/registration-period'] },
      { name: 'PUT /registration-period', allowed: ['registrar'], mutates: true, request: () => ['PUT', '/registration-period', {}] },
      { name: 'DELETE /users/{id}/waitlist/{sid}', allowed: ['otherStudent', 'registrar'], mutates: true, request: () => ['DELETE', `/users/${school.otherStudent.id}/waitlist/${sid}`] },
    ];

    test('covers every HTTP route of enroll.proto', () => {
      const declared = protoHttpRoutes('enroll/v1/enroll.proto');
      assert.ok(declared.length > 20, `only ${declared.length} routes found in the proto`);
      assert.deepEqual(routes.map((r) => routeShape(r.name)).sort(), declared.sort());
    });

    for (const route of routes) {
      test(route.name, async () => {
        const outcomes: Record<string, number> = {};
        for (const actor of ACTORS) {
          if (route.mutates) await reset();
          const before = route.mutates ? [await enrolledOf(sid), await waitlistOf(sid)] : undefined;
          const [method, path, body] = await route.request();
          const res: HttpAnswer = await http(method, path, { token: school[actor].token, body });
          outcomes[actor] = res.status;
          if (route.allowed.includes(actor)) {
            assert.equal(res.status, 200, `${actor} may ${route.name}: ${res.status} ${res.text}`);
          } else {
            assert.equal(res.status, 403, `${actor} may not ${route.name}: ${res.status} ${res.text}`);
            if (before) assert.deepEqual([await enrolledOf(sid), await waitlistOf(sid)], before, `a denied ${route.name} changes nothing`);
          }
        }
      });
    }
  });
});
