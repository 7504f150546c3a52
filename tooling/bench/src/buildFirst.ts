// Preloaded by every bench script (`node --import tsx --import ./src/buildFirst.ts <entry>`): the
// packages are built before the entry's imports are even resolved. A call of `buildPackages()` in
// the entry itself comes too late for them: an ES module's imports are all loaded before its body
// runs, so the entry would fail on a missing `dist/` or run a stale build of what it imports.
import { buildPackages } from './built.js';

buildPackages();
