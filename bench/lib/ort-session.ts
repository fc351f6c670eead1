import * as ort from 'onnxruntime-node';

/**
 * The baselines' onnxruntime session, created with the options inferq's inference threads use
 * (packages/inference/src/inference-thread.ts), so a difference in throughput is the serving
 * path's and not a session setting's.
 */
export function createBenchSession(modelPath: string, intraOpThreads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

export function floatTensor(data: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}
