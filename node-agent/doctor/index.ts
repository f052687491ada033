export { runDoctor, type DoctorSettings } from './doctor.js';
export { MIN_FREE_BYTES } from './local-files.js';
export type { DoctorCheck } from './check.js';
