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

const featureRangeSchema = z.object({ min: z.number().optional(), max: z.number().optional() }).strict();
export type FeatureRange = z.infer<typeof featureRangeSchema>;

/** A file in the version directory, or one shipped by an installed npm package. */
const fileRefSchema = z.union([
  z.string().min(1),
  z.object({ package: z.string().min(1), path: z.string().min(1) }),
]);
export type FileRef = z.infer<typeof fileRefSchema>;

const postprocessSchema = z.discriminatedUnion('kind', [
  /** One probability per row in `output`; `labels[1]` when it is at or above `threshold`, else `labels[0]`. */
  z.object({
    kind: z.literal('binary-threshold'),
    output: z.string().min(1),
    threshold: z.number().min(0).max(1).default(0.5),
  }),
  /** One score per class per row in `output`; the label of the highest score wins. */
  z.object({
    kind: z.literal('argmax'),
    output: z.string().min(1),
    softmax: z.boolean().default(false),
  }),
  /**
   * CTC greedy decoding of `output` [N, T, C]: best class per step, repeats collapsed, blanks
   * dropped. Class `blank` is the CTC blank; the others map in order onto the dictionary's lines,
   * then (with `space_char`) a final space class.
   */
  z.object({
    kind: z.literal('ctc-greedy'),
    output: z.string().min(1),
    dictionary: fileRefSchema,
    blank: z.number().int().min(0).default(0),
    space_char: z.boolean().default(true),
  }),
  /**
   * Text detection (DB, "Differentiable Binarization"): `output` [N, 1, H, W] is a probability map
   * of text; pixels above `threshold` form regions, each region's minimum-area rectangle is kept
   * when its mean probability reaches `box_threshold` and its short side `min_size` pixels, then
   * grown by `unclip_ratio` (offset by area × ratio / perimeter) → `{boxes, width, height}` in the
   * page's own pixels, in reading order (see db-postprocess.ts).
   */
  z.object({
    kind: z.literal('db'),
    output: z.string().min(1),
    threshold: z.number().min(0).max(1).default(0.3),
    box_threshold: z.number().min(0).max(1).default(0.6),
    unclip_ratio: z.number().min(0).max(10).default(1.5),
    min_size: z.number().min(0).default(3),
    max_candidates: z.number().int().min(1).default(1000),
  }),
]);
export type Postprocess = z.infer<typeof postprocessSchema>;

/**
 * Turns an image (PNG, JPEG, WebP, ...) into `input`, an [N, 3, height, W] float tensor: decoded,
 * converted to 3 channels in `channel_order`, resized to `height` keeping the aspect ratio,
 * scaled by 1/255, normalised per channel by `mean` and `std`, laid out CHW.
 * `width: number` fixes W: narrower images are padded on the right, wider ones squeezed to fit.
 * `width: "dynamic"` keeps the natural width (capped by INFERQ_MAX_IMAGE_WIDTH, the excess cut off
 * and reported); a batch then pads its images to a common width with `pad_value`, grouping images
 * by width bucket so little of each batch is padding.
 */
const imagePreprocessSchema = z.object({
  kind: z.literal('image'),
  input: z.string().min(1),
  height: z.number().int().min(1).max(4096),
  width: z.union([z.number().int().min(1).max(16384), z.literal('dynamic')]),
  channel_order: z.enum(['rgb', 'bgr']).default('rgb'),
  mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([1, 1, 1]),
  /** Value of padded pixels, after normalisation. */
  pad_value: z.number().default(0),
});
export type ImagePreprocess = z.infer<typeof imagePreprocessSchema>;

/**
 * Turns a whole page (text detection) into `input`, an [N, 3, H, W] float tensor: decoded, made
 * 3-channel in `channel_order`, shrunk so its longer side is at most `max_side` (never enlarged),
 * then each side rounded to a multiple of `multiple_of` (the network downsamples by that much),
 * scaled by 1/255 and normalised by `mean` and `std`, CHW. Pages share a batch only with pages
 * of the same tensor size.
 */
const pagePreprocessSchema = z.object({
  kind: z.literal('page'),
  input: z.string().min(1),
  max_side: z.number().int().min(32).max(8192).default(960),
  multiple_of: z.number().int().min(1).max(256).default(32),
  channel_order: z.enum(['rgb', 'bgr']).default('rgb'),
  mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([1, 1, 1]),
  pad_value: z.number().default(0),
});
export type PagePreprocess = z.infer<typeof pagePreprocessSchema>;

export const manifestSchema = z
  .object({
    description: z.string().default(''),
    /** Informational: what the model does. Pre/post-processing is driven by `features` and `postprocess`. */
    task: z.string().default('tensor'),
    artifact: fileRefSchema.default('model.onnx'),
    /** Hex sha256 of the artifact; a mismatch refuses the version at load. */
    sha256: z
      .string()
      .regex(/^[a-fA-F0-9]{64}$/)
      .transform((h) => h.toLowerCase()),
    inputs: z.array(tensorSpecSchema).min(1),
    outputs: z.array(tensorSpecSchema).min(1),
    /** Maps a `features: {name: value}` request onto one row of a 2-D input tensor, in this order. */
    features: z
      .object({
        input: z.string(),
        names: z.array(z.string().min(1)).min(1),
        /**
         * Per feature, the values the model was built for (both bounds inclusive, either optional).
         * A value outside is refused with INPUT_OUT_OF_RANGE, as a feature or as its column of a
         * tensor, rather than scored as if it meant something.
         */
        ranges: z.record(z.string(), featureRangeSchema).default({}),
      })
      .optional(),
    labels: z.array(z.string()).optional(),
    preprocess: z.discriminatedUnion('kind', [imagePreprocessSchema, pagePreprocessSchema]).optional(),
    postprocess: postprocessSchema.optional(),
    /** Most rows one `session.run` takes. */
    max_batch_size: z.number().int().min(1).max(65536).default(32),
    /** Queued jobs beyond which submits get 429 (overrides INFERQ_MAX_QUEUE_DEPTH). */
    max_queue_depth: z.number().int().min(1).optional(),
    /** Longest the oldest queued row waits for neighbours before its batch runs anyway. */
    max_wait_ms: z.number().min(0).max(10_000).default(5),
    /**
     * What the prediction log keeps of this model's requests (docs/predictions.md): `store_inputs`
     * keeps tensors and images themselves (default: a sha256 digest and size; tabular features
     * are always kept as values), `sample_rate` logs that share of predictions, and
     * `positive_label` names the class precision and recall are measured for (default: labels[1]).
     */
    prediction_log: z
      .strictObject({
        store_inputs: z.boolean().default(false),
        sample_rate: z.number().min(0).max(1).default(1),
        positive_label: z.string().optional(),
      })
      .default({ store_inputs: false, sample_rate: 1 }),
  })
  .superRefine((m, ctx) => {
    for (const [side, specs] of [['inputs', m.inputs], ['outputs', m.outputs]] as const) {
      specs.forEach((spec, index) => {
        if (spec.shape[0] !== -1) {
          ctx.addIssue({ code: 'custom', message: `${spec.name}: the first dimension is the batch dimension and must be -1`, path: [side, index, 'shape'] });
        }
        if (specs.findIndex((other) => other.name === spec.name) !== index) {
          ctx.addIssue({ code: 'custom', message: `${spec.name} is named twice`, path: [side, index, 'name'] });
        }
      });
    }
    if (m.preprocess) {
      const input = m.inputs.find((i) => i.name === m.preprocess?.input);
      if (input?.shape.length !== 4 || input.shape[1] !== 3 || !['FP32'].includes(input.datatype)) {
        ctx.addIssue({ code: 'custom', message: `preprocess.input ${m.preprocess.input} must be an FP32 input of shape [-1, 3, H, W]`, path: ['preprocess'] });
      } else if (m.inputs.length !== 1) {
        ctx.addIssue({ code: 'custom', message: 'image preprocessing needs a model with exactly one input', path: ['preprocess'] });
      }
    }
    if (m.features) {
      const input = m.inputs.find((i) => i.name === m.features?.input);
      if (!input) {
        ctx.addIssue({ code: 'custom', message: `features.input ${m.features.input} is not an input`, path: ['features'] });
      } else if (new Set(m.features.names).size !== m.features.names.length) {
        ctx.addIssue({ code: 'custom', message: 'features.names has duplicates', path: ['features', 'names'] });
      } else if (input.shape.length !== 2 || (input.shape[1] !== -1 && input.shape[1] !== m.features.names.length)) {
        ctx.addIssue({
          code: 'custom',
          message: `features.input ${input.name} must have shape [-1, ${m.features.names.length}]`,
          path: ['features'],
        });
      } else if (m.inputs.length !== 1) {
        ctx.addIssue({ code: 'custom', message: 'features mapping needs a model with exactly one input', path: ['features'] });
      }
      for (const [name, range] of Object.entries(m.features.ranges)) {
        if (!m.features.names.includes(name)) {
          ctx.addIssue({ code: 'custom', message: `features.ranges names ${name}, which is not in features.names`, path: ['features', 'ranges', name] });
        } else if (range.min !== undefined && range.max !== undefined && range.min > range.max) {
          ctx.addIssue({ code: 'custom', message: `features.ranges.${name}: min is above max`, path: ['features', 'ranges', name] });
        }
      }
    }
    if (m.postprocess && !m.outputs.some((o) => o.name === m.postprocess?.output)) {
      ctx.addIssue({ code: 'custom', message: `postprocess.output ${m.postprocess.output} is not an output`, path: ['postprocess'] });
    }
    if (m.prediction_log.positive_label !== undefined && !m.labels?.includes(m.prediction_log.positive_label)) {
      ctx.addIssue({ code: 'custom', message: `prediction_log.positive_label ${m.prediction_log.positive_label} is not one of labels`, path: ['prediction_log', 'positive_label'] });
    }
    if (m.postprocess?.kind === 'binary-threshold' && m.labels && m.labels.length !== 2) {
      ctx.addIssue({ code: 'custom', message: 'binary-threshold needs exactly two labels', path: ['labels'] });
    }
  });

export type ModelManifest = z.infer<typeof manifestSchema>;
