export { ModelStore, type NewVersion } from './model-store.js';
export { type ModelManifest, parameterCount } from './model-manifest.js';
export { RoundJournal, type JournalEntry, type JournalEvent } from './round-journal.js';
export { SiteRegistry, checkSiteName, type RegisteredSite } from './site-registry.js';
export { readFederationConfig, writeFederationConfig, federationConfigPath, type FederationConfig } from './federation-config.js';
export { writeFileAtomic, syncDir } from '../../shared/storage/index.js';
export { readFloat32Segments, type FloatSegment } from './float-segments.js';
export { coordinatorKeyPath, adminKeyPath, createCoordinatorKeys, readCoordinatorKeys, type CoordinatorKeys } from './coordinator-keys.js';
export { RunRecordFile, type ActiveRun } from './run-record.js';
