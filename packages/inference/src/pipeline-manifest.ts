import { z } from 'zod';
import { MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN, type ModelManifest } from './manifest.ts';

const STAGE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * What a stage reads: `"request"`, the submitted image (one request), or `{crops_of}`, one
 * request per box of an earlier stage's `boxes` result, each line cut out of the page along its
 * box (lengthened at both ends by `margin` × the box's height), levelled, and turned 180° where
 * the stage named by `turned_by` said so (fan-out).
 */
const stageInputSchema = z.union([
  z.literal('request'),
  z.object({
    crops_of: z.string().regex(STAGE_NAME),
    turned_by: z.string().regex(STAGE_NAME).optional(),
    margin: z.number().min(0).max(4).default(0),
  }),
]);

const stageSchema = z.object({
  name: z.string().regex(STAGE_NAME),
  /** The model whose own queue the stage's requests go to (they batch with every other request for it). */
  model: z.string().regex(MODEL_NAME_PATTERN),
  /** Pinned version; absent: the model's routing policy's stable version (most weight), else its newest. */
  version: z.string().regex(MODEL_VERSION_PATTERN).optional(),
  input: stageInputSchema,
  /** A classifier stage that turns lines: where its result's `label` is this one, with at least `min_confidence`, later stages get the crop turned 180°. */
  turns: z.object({ label: z.string().min(1), min_confidence: z.number().min(0).max(1).default(0.9) }).optional(),
  /** Longest the stage's requests may take, queue wait included, before the stage fails. */
  timeout_ms: z.number().int().min(100).max(600_000).default(60_000),
});
export type PipelineStage = z.infer<typeof stageSchema>;

/**
 * The result's shape. `text-lines`: one line per box of the `boxes` stage, in its (reading)
 * order, each `{text, confidence, box, angle}` from the `text` stage (plus 180° on the angle
 * where the `turned_by` stage turned it), or `{box, angle, error}` for a line that failed alone;
 * and `text`, the lines' text joined by newlines.
 */
const resultSchema = z.object({
  kind: z.literal('text-lines'),
  boxes: z.string().regex(STAGE_NAME),
  text: z.string().regex(STAGE_NAME),
});

export const pipelineManifestSchema = z
  .object({
    description: z.string().default(''),
    task: z.string().default('pipeline'),
    /** What a request carries: a page image (raw upload or `image: {data}`), header-checked at submit like an image model's. */
    input: z.literal('image'),
    stages: z.array(stageSchema).min(1),
    result: resultSchema,
    /** Pipeline requests in one bundle of the pipeline's own queue. */
    max_batch_size: z.number().int().min(1).max(1024).default(4),
    /** Pipeline requests one worker process runs at once (each waits on its stages' queues, not on a thread). */
    max_in_flight: z.number().int().min(1).max(1024).default(8),
    max_queue_depth: z.number().int().min(1).optional(),
  })
  .superRefine((p, ctx) => {
    const seen = new Map<string, PipelineStage>();
    p.stages.forEach((stage, index) => {
      const issue = (message: string) => ctx.addIssue({ code: 'custom', message, path: ['stages', index] });
      if (seen.has(stage.name)) issue(`stage ${stage.name} is named twice`);
      if (index === 0 && stage.input !== 'request') issue('the first stage reads the request');
      if (stage.input !== 'request') {
        const source = seen.get(stage.input.crops_of);
        if (!source) issue(`crops_of names ${stage.input.crops_of}, which is not an earlier stage`);
        else if (source.input !== 'request') issue(`crops_of names ${source.name}, which does not read the page`);
        if (stage.input.turned_by !== undefined && !seen.get(stage.input.turned_by)?.turns) issue(`turned_by names ${stage.input.turned_by}, which is not an earlier stage that turns lines`);
      }
      seen.set(stage.name, stage);
    });
    const boxes = seen.get(p.result.boxes);
    if (boxes?.input !== 'request') ctx.addIssue({ code: 'custom', message: `result.boxes names ${p.result.boxes}, which is not a stage reading the page`, path: ['result', 'boxes'] });
    const text = seen.get(p.result.text);
    if (!text || text.input === 'request' || text.input.crops_of !== p.result.boxes) {
      ctx.addIssue({ code: 'custom', message: `result.text names ${p.result.text}, which is not a stage reading the crops of ${p.result.boxes}`, path: ['result', 'text'] });
    }
  });

export type PipelineManifest = z.infer<typeof pipelineManifestSchema>;

/**
 * The model manifest the API validates a pipeline's requests against: no tensor inputs (only an
 * image is accepted), the pipeline's bundle size and queue depth.
 */
export function pipelineModelManifest(pipeline: PipelineManifest, sha256: string): ModelManifest {
  return {
    description: pipeline.description,
    task: pipeline.task,
    artifact: 'pipeline.json',
    sha256,
    inputs: [],
    outputs: [],
    max_batch_size: pipeline.max_batch_size,
    max_wait_ms: 0,
    // The page's stages log their own predictions; the pipeline itself has no model outputs to log.
    prediction_log: { store_inputs: false, sample_rate: 0 },
    ...(pipeline.max_queue_depth !== undefined ? { max_queue_depth: pipeline.max_queue_depth } : {}),
  };
}
