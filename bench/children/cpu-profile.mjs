// Preloaded into the API or worker process (NODE_OPTIONS=--import=<this file>, see
// bench/lib/stack.ts) when the bench runs with --profile: Node 20 refuses --cpu-prof in
// NODE_OPTIONS, and the services are started exactly as users start them. Profiles the main
// thread from start to exit (services exit normally on SIGTERM) into BENCH_CPU_PROFILE_DIR.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir && isMainThread) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  // A same-thread inspector session answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
