import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';

/**
 * BullMQ's Queue class, loaded from its own module rather than from bullmq's index. The index
 * also loads BullMQ's worker, sandboxed processors, flow producer, relay and PostgreSQL backend:
 * about 1.5 MB of heap (and a young generation grown further at start) in a process that only adds
 * jobs, as the API does. It is the very class the index exports (one CommonJS module cache), so
 * processes that load both, and libraries that check `instanceof Queue`, see one class.
 */
export const Queue: typeof BullMQ.Queue = createRequire(import.meta.url)('bullmq/dist/cjs/classes/queue.js').Queue;
export type Queue<DataTypeOrJob = any, DefaultResultType = any, DefaultNameType extends string = string> = BullMQ.Queue<DataTypeOrJob, DefaultResultType, DefaultNameType>;
