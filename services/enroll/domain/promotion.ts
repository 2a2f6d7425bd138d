/**
 * Filling free seats from the waitlist. Runs inside the caller's write
 * transaction, so the drop or update that freed the seats and the promotions
 * commit together.
 */
import type { EnrollStore } from '../store/store.js';
import { fitsLoad } from './credits.js';

/**
 * Walks the section's waitlist in position order and enrolls each student who
 * has no schedule conflict and room in their credit load, while seats are
 * free. Promoted students leave the waitlist (positions close up); skipped
 * students keep their place. A frozen or deleted section promotes no one.
 * Returns the promoted user ids in order.
 */
export function promoteFromWaitlist(store: EnrollStore, sectionId: number): number[] {
  const section = store.sections.getSection(sectionId);
  if (!section || section.frozen === 1 || section.deleted === 1) return [];
  let free = section.capacity - section.enrolled_count;
  if (free <= 0) return [];
  const promoted: number[] = [];
  // A snapshot is enough: removing an entry only shifts positions behind it,
  // and the walk goes by user, not by position.
  for (const entry of store.waitlist.sectionWaitlistInOrder(sectionId)) {
    if (free <= 0) break;
    if (store.sections.findConflict(entry.user_id, sectionId) !== undefined) continue;
    if (!fitsLoad(store, entry.user_id, section.course_credits)) continue;
    store.enrollments.enroll(entry.user_id, sectionId);
    store.waitlist.remove(entry.user_id, sectionId);
    store.events.record(entry.user_id, sectionId, 'promoted', null);
    promoted.push(entry.user_id);
    free--;
  }
  return promoted;
}

/**
 * A student who was skipped for a schedule conflict or a full load keeps their
 * place in line, and the seat goes to someone behind them, or stays free if no
 * one else fits. When the students in `userIds` lose an enrollment (they drop
 * it, or its section is deleted) or finish one (it is graded), that obstacle
 * may be gone: every waitlist they are on is walked again, in section order,
 * so a seat left free while they did not fit goes to the first in line who
 * now fits, not to whoever enrolls next. `alsoSections` are walked with them.
 */
export function promoteWaitlistsOf(store: EnrollStore, userIds: Iterable<number>, alsoSections: Iterable<number> = []): void {
  const sections = new Set<number>(alsoSections);
  for (const userId of userIds) for (const sectionId of store.waitlist.userWaitlistSections(userId)) sections.add(sectionId);
  for (const sectionId of [...sections].sort((a, b) => a - b)) promoteFromWaitlist(store, sectionId);
}
