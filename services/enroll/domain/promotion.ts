/**
 * Filling free seats from the waitlist. Runs inside the caller's write
 * transaction, so the drop or update that freed the seats and the promotions
 * commit together.
 */
import type { EnrollStore } from '../store/store.js';
import { fitsLoad } from './credits.js';
import { passedPrerequisites } from './prerequisites.js';

/**
 * Walks the section's waitlist in position order and enrolls each student who
 * has no registration hold, no schedule conflict, room in their credit load
 * and the course's prerequisites passed (unless the registrar waived them),
 * while seats are free. Promoted students leave the waitlist (positions close up); skipped
 * students keep their place. A student who takes the course in another
 * section waited to change sections: the promotion gives that seat up (a
 * "dropped" event by the service), whose own waitlist is then walked in turn.
 * A frozen or deleted section promotes no one. Returns the user ids promoted
 * into this section, in order.
 */
export function promoteFromWaitlist(store: EnrollStore, sectionId: number): number[] {
  const section = store.sections.getSection(sectionId);
  if (!section || section.frozen === 1 || section.deleted === 1) return [];
  let free = section.capacity - section.enrolled_count;
  if (free <= 0) return [];
  const promoted: number[] = [];
  // The seats given up by students who moved here, and those students.
  const givenUp: number[] = [];
  const moved: number[] = [];
  // A snapshot is enough: removing an entry only shifts positions behind it,
  // and the walk goes by user, not by position.
  for (const entry of store.waitlist.sectionWaitlistInOrder(sectionId)) {
    if (free <= 0) break;
    const userId = entry.user_id;
    if (store.holds.firstActive(userId) !== undefined) continue;
    if (store.sections.findConflict(userId, sectionId) !== undefined) continue;
    if (entry.prerequisites_waived !== 1 && !passedPrerequisites(store, userId, section.course_id)) continue;
    const held = store.enrollments.otherSeatInCourse(userId, section.course_id, sectionId);
    // The same course, so a seat given up frees the credits this one takes.
    if (held === undefined && !fitsLoad(store, userId, section.course_credits)) continue;
    if (held !== undefined && store.enrollments.drop(userId, held)) {
      store.events.record(userId, held, 'dropped', null);
      givenUp.push(held);
      moved.push(userId);
    }
    store.enrollments.enroll(userId, sectionId);
    store.waitlist.remove(userId, sectionId);
    store.events.record(userId, sectionId, 'promoted', null);
    promoted.push(userId);
    free--;
  }
  // Each seat given up may go to its own line, and each move frees hours
  // that may have kept the mover out of another section. Every promotion
  // removes a waitlist entry, so this ends.
  for (const held of givenUp) promoteFromWaitlist(store, held);
  if (moved.length > 0) promoteWaitlistsOf(store, moved);
  return promoted;
}

/**
 * A student who was skipped for a hold, a schedule conflict, a full load or a
 * prerequisite keeps their place in line, and the seat goes to someone behind
 * them, or stays free if no one else fits. When the students in `userIds` lose
 * an enrollment (they drop it, or its section is deleted) or finish one (it
 * is graded), that obstacle may be gone: every waitlist they are on is walked
 * again, in section order, so a seat left free while they did not fit goes to
 * the first in line who now fits, not to whoever enrolls next. `alsoSections`
 * are walked with them.
 */
export function promoteWaitlistsOf(store: EnrollStore, userIds: Iterable<number>, alsoSections: Iterable<number> = []): void {
  const sections = new Set<number>(alsoSections);
  for (const userId of userIds) for (const sectionId of store.waitlist.userWaitlistSections(userId)) sections.add(sectionId);
  for (const sectionId of [...sections].sort((a, b) => a - b)) promoteFromWaitlist(store, sectionId);
}
