import sodiumModule from 'libsodium-wrappers';

export type Sodium = typeof sodiumModule;

let ready = false;

/**
 * libsodium compiled to WebAssembly: it must finish loading once before any call. Every entry
 * point that uses it awaits this first; `sodiumNow` is for code that runs after that.
 */
export async function loadSodium(): Promise<Sodium> {
  await sodiumModule.ready;
  ready = true;
  return sodiumModule;
}

/** libsodium, when `loadSodium` has already been awaited (throws otherwise: a programming error). */
export function sodiumNow(): Sodium {
  if (!ready) throw new Error('libsodium is not loaded yet: await loadSodium() before using keys or sealing');
  return sodiumModule;
}
