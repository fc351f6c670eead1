/**
 * Loads each freshly written model in onnxruntime and runs it once, so a
 * malformed graph or a manifest that disagrees with the graph fails the build
 * instead of a worker at startup.
 */
import * as ort from 'onnxruntime-node';
import type { WrittenModel } from './write-model.ts';

export type SmokeCheck = (session: ort.InferenceSession) => Promise<string>;

export function fail(model: string, message: string): never {
  throw new Error(`smoke check failed for ${model}: ${message}`);
}

export function expectDims(model: string, tensor: ort.Tensor | undefined, dims: readonly number[]): ort.Tensor {
  if (!tensor) fail(model, 'output missing');
  if (tensor.dims.length !== dims.length || tensor.dims.some((d, i) => d !== dims[i])) {
    fail(model, `expected dims [${dims.join(', ')}], got [${tensor.dims.join(', ')}]`);
  }
  return tensor;
}

export function float32Data(model: string, tensor: ort.Tensor): Float32Array {
  if (!(tensor.data instanceof Float32Array)) fail(model, `expected float32 output, got ${tensor.type}`);
  return tensor.data;
}

/**
 * `quietRunErrors` silences onnxruntime's own error log for checks that make
 * a run fail on purpose, so the build output only shows real problems.
 */
export async function smokeCheck(written: WrittenModel, check: SmokeCheck, quietRunErrors = false): Promise<string> {
  const session = await ort.InferenceSession.create(written.modelPath, quietRunErrors ? { logSeverityLevel: 4 } : {});
  try {
    const declaredIn = written.manifest.inputs.map((t) => t.name);
    const declaredOut = written.manifest.outputs.map((t) => t.name);
    if (session.inputNames.join() !== declaredIn.join() || session.outputNames.join() !== declaredOut.join()) {
      fail(
        written.relDir,
        `graph has inputs [${session.inputNames.join()}] / outputs [${session.outputNames.join()}], ` +
          `model.json declares [${declaredIn.join()}] / [${declaredOut.join()}]`,
      );
    }
    return await check(session);
  } finally {
    await session.release();
  }
}
