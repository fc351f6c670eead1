import * as ort from 'onnxruntime-node';
import { sessionThreadOptions } from '../../packages/inference/src/thread-policy.ts';

/**
 * The baselines' onnxruntime session, created with the options inferq's inference threads use
 * (packages/inference/src/inference-thread.ts), so a difference in throughput is the serving
 * path's and not a session setting's.
 */
export function createBenchSession(modelPath: string, intraOpThreads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    ...sessionThreadOptions({ intraOpThreads }),
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
  });
}

export function floatTensor(data: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}
