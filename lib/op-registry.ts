/**
 * Named operations: what a read (`reader.ts`) and a write (`writer.ts`) are.
 *
 * An operation is a synchronous function of a database connection and plain
 * arguments, defined once at module level under a unique name. The name is
 * what lets another thread run it: a reader or writer thread imports the
 * modules that define the operations, and looks each call up by name.
 */

/**
 * An operation. `run` must be synchronous, use only `db` and `args` (never
 * state captured from its module's thread), and return plain data that
 * survives a structured clone: it may run on another thread.
 */
export interface NamedOp<D, A, R> {
  readonly name: string;
  readonly run: (db: D, args: A) => R;
}

/** The operations of one kind (reads, or writes) defined in this thread. */
export interface OpRegistry<D> {
  /** Defines (and registers by its unique name) an operation. Call at module level. */
  define<A, R>(name: string, run: (db: D, args: A) => R): NamedOp<D, A, R>;
  /** The operation defined under `name` in this thread, if any. */
  named(name: string): NamedOp<D, unknown, unknown> | undefined;
}

/** A registry whose operations run on a `D`; `kind` names them in errors ("read", "write"). */
export function opRegistry<D>(kind: string): OpRegistry<D> {
  const ops = new Map<string, NamedOp<D, never, unknown>>();
  return {
    define<A, R>(name: string, run: (db: D, args: A) => R): NamedOp<D, A, R> {
      if (ops.has(name)) throw new Error(`${kind} operation ${name} is defined twice`);
      const op: NamedOp<D, A, R> = { name, run };
      ops.set(name, op as NamedOp<D, never, unknown>);
      return op;
    },
    named(name: string): NamedOp<D, unknown, unknown> | undefined {
      return ops.get(name) as NamedOp<D, unknown, unknown> | undefined;
    },
  };
}
