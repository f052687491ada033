// Files on disk that a crash must never leave half-written; both roles keep state this way.
export { removeTempSiblings, syncDir, tempSibling, writeFileAtomic, writeFileAtomicSync } from './atomic-file.js';
