// Worker threads do not inherit the TypeScript loader that runs inferq from source, so this
// plain-JS entry registers it (only when the target is a .ts file) before loading the thread.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
