/**
 * Compile-time checks that a zod schema and the hand-written type it validates say the same thing,
 * so a field added to one is never silently dropped or left unchecked by the other.
 */

/** The same type written out field by field, so an intersection and the object it amounts to compare equal. */
type Normalize<T> = T extends (infer U)[] ? Normalize<U>[] : T extends object ? { [K in keyof T]: Normalize<T[K]> } : T;

/** True only for identical types: every field, its type and whether it is optional. */
export type SameShape<A, B> = (<T>() => T extends Normalize<A> ? 1 : 2) extends <T>() => T extends Normalize<B> ? 1 : 2 ? true : false;

/** Compiles only when given `true`. */
export type Assert<T extends true> = T;
