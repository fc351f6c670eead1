import { z } from 'zod';
import { TENSOR_DATATYPES } from '@inferq/core/tensor';

export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const MODEL_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

const tensorSpecSchema = z.object({
  name: z.string().min(1),
  datatype: z.enum(TENSOR_DATATYPES),
  /** -1 marks a dynamic dimension. The first dimension is the batch (row) dimension and must be -1. */
  shape: z.array(z.number().int().min(-1)).min(1),
  description: z.string().optional(),
});
export type TensorSpec = z.infer<typeof tensorSpecSchema>;

const artifactSchema = z.union([
  /** A file inside the version directory. */
  z.string().min(1),
  /** A file shipped by an installed npm package, resolved with require.resolve at load time. */
  z.object({ package: z.string().min(1), path: z.string().min(1) }),
]);
export type ArtifactRef = z.infer<typeof artifactSchema>;

const postprocessSchema = z.discriminatedUnion('kind', [
  /** One probability per row in `output`; `labels[1]` when it is at or above `threshold`, else `labels[0]`. */
  z.object({
    kind: z.literal('binary-threshold'),
    output: z.string(),
    threshold: z.number().min(0).max(1).default(0.5),
  }),
  /** One score per class per row in `output`; the label of the highest score wins. */
  z.object({
    kind: z.literal('argmax'),
    output: z.string(),
    softmax: z.boolean().default(false),
  }),
]);
export type Postprocess = z.infer<typeof postprocessSchema>;

export const manifestSchema = z
  .object({
    description: z.string().default(''),
    /** Informational: what the model does. Pre/post-processing is driven by `features` and `postprocess`. */
    task: z.string().default('tensor'),
    artifact: artifactSchema.default('model.onnx'),
    /** Hex sha256 of the artifact; a mismatch refuses the version at load. */
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
    inputs: z.array(tensorSpecSchema).min(1),
    outputs: z.array(tensorSpecSchema).min(1),
    /** Maps a `features: {name: value}` request onto one row of a 2-D input tensor, in this order. */
    features: z
      .object({ input: z.string(), names: z.array(z.string().min(1)).min(1) })
      .optional(),
    labels: z.array(z.string()).optional(),
    postprocess: postprocessSchema.optional(),
    /** Most rows one `session.run` takes. */
    max_batch_size: z.number().int().min(1).max(65536).default(32),
    /** Longest the oldest queued row waits for neighbours before its batch runs anyway. */
    max_wait_ms: z.number().min(0).max(10_000).default(5),
  })
  .superRefine((m, ctx) => {
    for (const spec of [...m.inputs, ...m.outputs]) {
      if (spec.shape[0] !== -1) {
        ctx.addIssue({
          code: 'custom',
          message: `tensor ${spec.name}: the first dimension is the batch dimension and must be -1`,
          path: ['inputs'],
        });
      }
    }
    if (m.features) {
      const input = m.inputs.find((i) => i.name === m.features?.input);
      if (!input) {
        ctx.addIssue({ code: 'custom', message: `features.input ${m.features.input} is not an input`, path: ['features'] });
      } else if (input.shape.length !== 2 || (input.shape[1] !== -1 && input.shape[1] !== m.features.names.length)) {
        ctx.addIssue({
          code: 'custom',
          message: `features.input ${input.name} must have shape [-1, ${m.features.names.length}]`,
          path: ['features'],
        });
      } else if (m.inputs.length !== 1) {
        ctx.addIssue({ code: 'custom', message: 'features mapping needs a model with exactly one input', path: ['features'] });
      }
    }
    if (m.postprocess && !m.outputs.some((o) => o.name === m.postprocess?.output)) {
      ctx.addIssue({ code: 'custom', message: `postprocess.output ${m.postprocess.output} is not an output`, path: ['postprocess'] });
    }
    if (m.postprocess?.kind === 'binary-threshold' && m.labels && m.labels.length !== 2) {
      ctx.addIssue({ code: 'custom', message: 'binary-threshold needs exactly two labels', path: ['labels'] });
    }
  });

export type ModelManifest = z.infer<typeof manifestSchema>;
