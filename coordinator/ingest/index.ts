export { UpdateReceiver, type UploadGate, type AdmittedUpload, type VerifiedUpdate } from './update-receiver.js';
export { SpoolFile, clearSpool } from './spool.js';
export { FiniteScan } from './finite-scan.js';
export { EvaluationReceiver, type EvaluationGate } from './evaluation-receiver.js';
