import { z } from 'zod';
import { InferqError } from '@inferq/core/errors';
import type { FinishedJobRecord } from '@inferq/core/job-types';
import type { ModelEntry, ModelVersionEntry } from '@inferq/inference/model-repository';
import type { JobRequest } from './job-request-schema.ts';

/**
 * The KServe V2 / Open Inference Protocol (REST) as inferq speaks it: request and response
 * shapes, and how an inference request becomes an inferq job and its record a V2 response.
 * Spec: github.com/kserve/open-inference-protocol, specification/protocol/inference_rest.md.
 */

/** Every datatype the protocol names (inferq's models take the numeric ones but FP16). */
export const V2_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;

/** `$parameters`: names to strings, numbers or booleans. */
const parametersSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/** `$inference_request`. Unknown fields are ignored, as other V2 servers do. */
export const v2InferenceRequestSchema = z.object({
  id: z.string().optional(),
  parameters: parametersSchema.optional(),
  inputs: z
    .array(
      z.object({
        name: z.string().min(1),
        shape: z.array(z.number().int().min(0)).max(8),
        datatype: z.string().min(1),
        parameters: parametersSchema.optional(),
        data: z.array(z.unknown()),
      }),
    )
    .min(1)
    .max(64),
  outputs: z.array(z.object({ name: z.string().min(1), parameters: parametersSchema.optional() })).optional(),
});

export type V2InferenceRequest = z.infer<typeof v2InferenceRequestSchema>;

/** `$metadata_tensor` */
export interface V2TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** The model metadata of one version (`GET /v2/models/{name}[/versions/{v}]`): `versions` lists what may be asked for. */
export function modelMetadata(model: ModelEntry, entry: ModelVersionEntry, versions: string[]) {
  const tensors = (specs: readonly V2TensorMetadata[] | undefined) => (specs ?? []).map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] }));
  return {
    name: model.name,
    versions,
    // Every inferq model is an ONNX model run by onnxruntime.
    platform: 'onnx_onnxv1',
    inputs: tensors(entry.manifest?.inputs),
    outputs: tensors(entry.manifest?.outputs),
  };
}

const BINARY_REFUSED = 'the binary tensor data extension is not supported: send tensors as JSON data, with binary_data false or absent';

/** True for a parameter that turns binary data on (`true`, or a size, which only binary data has). */
const binaryOn = (value: string | number | boolean | undefined) => value !== undefined && value !== false;

/**
 * The job a V2 inference request stands for. Refuses what inferq does not do: binary tensor data
 * (the extension is not advertised), datatypes the protocol does not name, outputs the model
 * does not have. Request `parameters` inferq reads: `priority` (1-9) and `routing_key`; others
 * are ignored, as the protocol allows.
 */
export function toJobRequest(model: ModelEntry, version: string | undefined, request: V2InferenceRequest): { job: JobRequest; outputs: string[] | undefined } {
  const parameters = request.parameters ?? {};
  if (binaryOn(parameters.binary_data_output)) throw invalid(BINARY_REFUSED);
  for (const input of request.inputs) {
    if (binaryOn(input.parameters?.binary_data_size)) throw invalid(`input ${input.name}: ${BINARY_REFUSED}`);
    if (!(V2_DATATYPES as readonly string[]).includes(input.datatype)) {
      throw new InferqError('INVALID_REQUEST', `input ${input.name}: ${input.datatype} is not a V2 datatype (${V2_DATATYPES.join(', ')})`, {
        details: { input: input.name, datatype: input.datatype },
      });
    }
  }
  for (const output of request.outputs ?? []) {
    if (binaryOn(output.parameters?.binary_data)) throw invalid(`output ${output.name}: ${BINARY_REFUSED}`);
  }
  const known = new Set(model.versions.flatMap((v) => (v.version === version || version === undefined ? (v.manifest?.outputs ?? []).map((o) => o.name) : [])));
  const unknown = (request.outputs ?? []).find((o) => !known.has(o.name));
  if (unknown) throw invalid(`the model has no output ${unknown.name}; its outputs are ${[...known].join(', ')}`);
  const priority = parameters.priority;
  if (priority !== undefined && !(typeof priority === 'number' && Number.isInteger(priority) && priority >= 1 && priority <= 9)) {
    throw invalid('parameters.priority must be an integer from 1 (most urgent) to 9');
  }
  const routingKey = parameters.routing_key;
  if (routingKey !== undefined && (typeof routingKey !== 'string' || routingKey.length === 0 || routingKey.length > 256)) {
    throw invalid('parameters.routing_key must be a string of 1 to 256 characters');
  }
  const job: JobRequest = {
    model: model.name,
    ...(version !== undefined ? { version } : {}),
    ...(routingKey !== undefined ? { routing_key: routingKey } : {}),
    ...(priority !== undefined ? { priority } : {}),
    inputs: request.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, data: i.data })),
  };
  return { job, outputs: request.outputs?.map((o) => o.name) };
}

interface WireOutput {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/**
 * `$inference_response` from a finished job: the requested outputs in the order asked (all of
 * them when none was named). A job that failed throws its error, with the status its code has.
 */
export function toInferenceResponse(record: FinishedJobRecord, request: V2InferenceRequest, outputs: string[] | undefined) {
  if (record.status !== 'succeeded') {
    const details = { job_id: record.job_id, status: record.status };
    if (!record.error) throw new InferqError('CANCELED', `job ${record.job_id} was canceled before it ran`, { details });
    throw new InferqError(record.error.code, record.error.message, { details });
  }
  const produced = ((record.result as { outputs?: WireOutput[] } | undefined)?.outputs ?? []).map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: o.data }));
  const chosen = outputs === undefined ? produced : outputs.flatMap((name) => produced.filter((o) => o.name === name));
  return {
    model_name: record.model,
    model_version: record.model_version,
    ...(request.id !== undefined ? { id: request.id } : {}),
    parameters: { job_id: record.job_id },
    outputs: chosen,
  };
}

function invalid(message: string): InferqError {
  return new InferqError('INVALID_REQUEST', message);
}

/**
 * The status a V2 error answers with: the protocol says errors are "typically 400", so inferq's
 * 415 and 422 (the request is wrong) become 400; not found, conflicts, limits and 5xx keep theirs.
 */
export function v2ErrorStatus(error: InferqError): number {
  return error.status === 415 || error.status === 422 ? 400 : error.status;
}
