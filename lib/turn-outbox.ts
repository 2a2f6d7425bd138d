/**
 * Gathers what is pushed during one turn of the event loop and hands it over
 * in one piece when the turn ends (at the next `setImmediate`): the writer
 * thread's two ends use it to send a turn's writes, and a turn's answers, as
 * one message each.
 */
export function turnOutbox<T>(send: (items: T[]) => void): (item: T) => void {
  let items: T[] = [];
  return (item) => {
    items.push(item);
    if (items.length > 1) return; // the turn's flush is already scheduled
    setImmediate(() => {
      const out = items;
      items = [];
      send(out);
    });
  };
}
