export {
  type MultilevelEvents,
  type MultilevelOptions,
  type MultilevelStats,
  MultilevelStore,
  multilevel,
} from './multilevel.js';
