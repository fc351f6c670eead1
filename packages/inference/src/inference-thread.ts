import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ThreadInit, ThreadMessage, ThreadRequest } from './inference-protocol.ts';
import type { OrtType, RawTensor, TypedArray } from './tensor-codec.ts';
import { lowerThisThreadPriority, sessionThreadOptions } from './thread-policy.ts';

// session.run blocks its thread for the whole inference; here that is this thread, not the
// worker's event loop, so lock renewal and Redis I/O keep flowing while models run.
const init = workerData as ThreadInit;
const port = parentPort;
if (!port) throw new Error('inference-thread must run as a worker thread');

function post(message: ThreadMessage, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

function toOrt(feeds: Record<string, RawTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor(t.type, t.data as never, t.dims);
  return out;
}

function fromOrt(results: ort.InferenceSession.OnnxValueMapType): { outputs: Record<string, RawTensor>; transfer: ArrayBuffer[] } {
  const outputs: Record<string, RawTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, value] of Object.entries(results)) {
    const tensor = value as ort.Tensor;
    const data = tensor.data as TypedArray;
    outputs[name] = { type: tensor.type as OrtType, dims: [...tensor.dims], data };
    if (data.buffer instanceof ArrayBuffer && !transfer.includes(data.buffer)) transfer.push(data.buffer);
  }
  return { outputs, transfer };
}

async function createSession(): Promise<{ session: ort.InferenceSession; provider: string; warnings: string[] }> {
  const warnings: string[] = [];
  // Before the session exists, so that its intra-op threads are born with this priority.
  const priorityWarning = lowerThisThreadPriority(init.policy.niceIncrement ?? 0);
  if (priorityWarning) warnings.push(priorityWarning);
  for (const provider of init.executionProviders) {
    try {
      const session = await ort.InferenceSession.create(init.modelPath, {
        executionProviders: [provider],
        ...sessionThreadOptions(init.policy),
        graphOptimizationLevel: 'all',
        // Run failures come back to the worker, which logs them as structured lines; onnxruntime's
        // own stderr copy of each one would only be noise.
        logSeverityLevel: 4,
      });
      return { session, provider, warnings };
    } catch (error) {
      warnings.push(`execution provider ${provider} unavailable (${(error as Error).message.split('\n')[0]}); trying the next one`);
    }
  }
  throw new Error(`no execution provider could load the model: ${warnings.join('; ')}`);
}

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    const created = await createSession();
    session = created.session;
    const started = performance.now();
    await session.run(toOrt(init.warmupFeeds));
    post({ kind: 'ready', provider: created.provider, warnings: created.warnings, warmupMs: performance.now() - started });
  } catch (error) {
    post({ kind: 'init-failed', message: (error as Error).message });
    return;
  }
  const runOne = async (request: ThreadRequest) => {
    const started = performance.now();
    try {
      const results = await session.run(toOrt(request.feeds));
      const { outputs, transfer } = fromOrt(results);
      post({ kind: 'result', id: request.id, outputs, inferenceMs: performance.now() - started }, transfer);
    } catch (error) {
      post({ kind: 'run-failed', id: request.id, message: (error as Error).message });
    }
  };
  // A batch queued behind a running one starts when that one ends, never beside it: the pool
  // reads answers in the order it sent batches, and inferenceMs must not count the wait.
  let previous: Promise<void> = Promise.resolve();
  port?.on('message', (request: ThreadRequest) => {
    previous = previous.then(() => runOne(request));
  });
}

await main();
