/**
 * Answers that many callers share (lib/read-memo.ts), encoded once.
 *
 * A memoised catalogue page is one deep-frozen object handed to every caller
 * until the data changes; encoding it into protobuf for each of them (50
 * sections: about a tenth of a replica's event-loop time in
 * `npm run bench -- --only 05`) repeats the same work. The memo marks such
 * answers, and `encodeShared` wraps a method's response serializer so that a
 * marked answer is encoded on its first use and its bytes reused while the
 * answer lives (a WeakMap: the bytes go when the memo drops the answer).
 * grpc-js copies the bytes into each response frame, so sharing them is safe.
 */

const shared = new WeakSet<object>();

/** Marks `answer` (which must be deep-frozen: it will never change) as shared by many callers. */
export function markShared<T extends object>(answer: T): T {
  shared.add(answer);
  return answer;
}

/** `serialize`, with the bytes of each shared answer kept for as long as the answer lives. */
export function encodeShared<T>(serialize: (value: T) => Buffer): (value: T) => Buffer {
  const encoded = new WeakMap<object, Buffer>();
  return (value) => {
    if (typeof value !== 'object' || value === null || !shared.has(value)) return serialize(value);
    let bytes = encoded.get(value);
    if (bytes === undefined) {
      bytes = serialize(value);
      encoded.set(value, bytes);
    }
    return bytes;
  };
}
