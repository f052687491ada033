// The site policy reads these from here; their home is shared/config (both roles' files speak the same way).
export { keyPath, show, valueAt } from '../../shared/config/index.js';
