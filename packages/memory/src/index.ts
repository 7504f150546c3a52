export type { MemoryStoreOptions } from './memoryStore.js';
export { MemoryStore, memoryStore } from './memoryStore.js';
