import { InferqError, type ErrorBody } from '@inferq/core/errors';
import type { BundledRequest, FinishedJobRecord, StageTiming } from '@inferq/core/job-types';
import type { Logger } from '@inferq/core/logger';
import { defaultVersion, type ModelEntry, type ModelVersionEntry } from '@inferq/inference/model-repository';
import type { PipelineManifest, PipelineStage } from '@inferq/inference/pipeline-manifest';
import { byWeight } from '@inferq/inference/stable-version';
import type { PolicyStore } from '@inferq/routing/policy-store';
import { cropLine, decodePage, lengthened, type Quad } from './line-crops.ts';
import type { RecordWaiter } from './record-waiter.ts';
import type { RequestSubmitter } from './request-submitter.ts';

export interface PipelineRunnerOptions {
  name: string;
  version: string;
  pipeline: PipelineManifest;
  /** The whole model repository: stages run on models this worker may not serve itself. */
  models: Map<string, ModelEntry>;
  submitter: RequestSubmitter;
  waiter: RecordWaiter;
  policies: PolicyStore;
  maxImagePixels: number;
  logger: Logger;
}

export interface PipelineOutcome {
  status: 'succeeded' | 'failed';
  result?: unknown;
  error?: InferqError;
  /** Summed `inference_ms` of every stage request. */
  inferenceMs: number;
  stages: StageTiming[];
}

/** One text line as the result gives it. */
interface LineResult {
  text?: string;
  confidence?: number;
  box: Quad;
  angle: number;
  error?: ErrorBody;
}

interface DetectedBox {
  box: Quad;
  angle: number;
}

/** How long a routing policy read is reused: stages follow a policy change within this. */
const POLICY_CACHE_MS = 5000;
/** Stage requests are intermediate: kept for the page's TTL, at most ten minutes. */
const MAX_STAGE_TTL_MS = 600_000;

const normalisedAngle = (degrees: number) => {
  const a = ((degrees % 360) + 360) % 360;
  return Math.round((a > 180 ? a - 360 : a) * 100) / 100;
};

function stageError(stage: PipelineStage, record: FinishedJobRecord | undefined, version: string): InferqError {
  const cause = record?.error ?? (record ? { code: 'INTERNAL', message: `the stage request ended ${record.status}` } : undefined);
  const message = cause ? `stage ${stage.name} (${stage.model} ${version}) failed: ${cause.message}` : `stage ${stage.name} (${stage.model} ${version}) gave no answer within ${stage.timeout_ms} ms`;
  return new InferqError('STAGE_FAILED', message, { details: { stage: stage.name, model: stage.model, version, ...(record ? { job_id: record.job_id } : {}), ...(cause ? { cause } : {}) } });
}

/**
 * Runs one pipeline request (a page) through its stages. Every stage is a set of ordinary
 * requests queued on the stage model's own queue, through the job path (bundles, admission
 * counters, results, completion messages), so they batch with every other request for that
 * model; this runner only cuts lines out of the page between stages, waits for the records and
 * assembles the result. A line whose request fails, fails alone in the result; a page without
 * text is an empty result.
 */
export class PipelineRunner {
  private readonly policyCache = new Map<string, { at: number; version: ModelVersionEntry | undefined }>();

  constructor(private readonly options: PipelineRunnerOptions) {}

  /** The stage's version: pinned, else the routing policy's stable one (available here), else the newest. */
  private async versionOf(stage: PipelineStage): Promise<ModelVersionEntry> {
    const model = this.options.models.get(stage.model);
    if (!model) throw new InferqError('MODEL_NOT_FOUND', `stage ${stage.name} names model ${stage.model}, which is not in the repository`);
    let entry: ModelVersionEntry | undefined;
    if (stage.version !== undefined) {
      entry = model.versions.find((v) => v.version === stage.version);
    } else {
      const cached = this.policyCache.get(stage.model);
      if (cached && Date.now() - cached.at < POLICY_CACHE_MS) entry = cached.version;
      else {
        const stored = await this.options.policies.read(stage.model);
        const stable = byWeight(stored?.policy.weights ?? {}).map((v) => model.versions.find((e) => e.version === v && e.state === 'available')).find(Boolean);
        entry = stable ?? defaultVersion(model);
        this.policyCache.set(stage.model, { at: Date.now(), version: entry });
      }
    }
    if (entry?.state !== 'available' || !entry.manifest) {
      throw new InferqError('MODEL_VERSION_UNAVAILABLE', `stage ${stage.name}: ${stage.model} ${stage.version ?? ''} is not available`, { details: { stage: stage.name, model: stage.model } });
    }
    return entry;
  }

  /** Queues one stage's requests and waits for their records (undefined: no answer in time). */
  private async runStage(stage: PipelineStage, images: string[], request: BundledRequest, priority: number, timings: StageTiming[]): Promise<{ records: (FinishedJobRecord | undefined)[]; version: string }> {
    const version = await this.versionOf(stage);
    const started = performance.now();
    const prepared = this.options.submitter.prepare(images, {
      model: stage.model,
      version: version.version,
      tenant: request.tenant ?? 'default',
      priority,
      ttlMs: Math.min(request.ttl_ms, MAX_STAGE_TTL_MS),
      maxPerBundle: version.manifest?.max_batch_size ?? 1,
      metadata: { pipeline: this.options.name, pipeline_job_id: request.id, stage: stage.name },
    });
    const expected = await this.options.waiter.expect(prepared.ids);
    try {
      await prepared.send();
    } catch (error) {
      await expected.done(0); // releases the waits
      throw error;
    }
    const records = await expected.done(stage.timeout_ms);
    timings.push({ stage: stage.name, model: stage.model, version: version.version, ms: Math.round(performance.now() - started), requests: images.length });
    return { records, version: version.version };
  }

  async run(request: BundledRequest, priority: number): Promise<PipelineOutcome> {
    const { pipeline } = this.options;
    const stages: StageTiming[] = [];
    let inferenceMs = 0;
    const tally = (records: (FinishedJobRecord | undefined)[]) => {
      for (const r of records) inferenceMs += r?.timings?.inference_ms ?? 0;
    };
    const outcome = (o: Omit<PipelineOutcome, 'inferenceMs' | 'stages'>): PipelineOutcome => ({ ...o, inferenceMs: Math.round(inferenceMs * 1000) / 1000, stages });
    if (request.image === undefined) return outcome({ status: 'failed', error: new InferqError('IMAGE_REQUIRED') });
    const page = request.image;
    /** Per page stage: its boxes. Per crop stage: each line's record. */
    const boxesOf = new Map<string, DetectedBox[]>();
    const linesOf = new Map<string, (FinishedJobRecord | undefined)[]>();
    const turned = new Map<string, boolean[]>();
    let decoded: Awaited<ReturnType<typeof decodePage>> | undefined;
    try {
      for (const stage of pipeline.stages) {
        if (stage.input === 'request') {
          const { records, version } = await this.runStage(stage, [page], request, priority, stages);
          tally(records);
          const [record] = records;
          if (record?.status !== 'succeeded') return outcome({ status: 'failed', error: stageError(stage, record, version) });
          const boxes = (record.result as { boxes?: DetectedBox[] } | undefined)?.boxes;
          if (!Array.isArray(boxes)) return outcome({ status: 'failed', error: new InferqError('STAGE_FAILED', `stage ${stage.name} (${stage.model}) gave no boxes`, { details: { stage: stage.name, model: stage.model } }) });
          boxesOf.set(stage.name, boxes);
          continue;
        }
        const input = stage.input;
        const boxes = boxesOf.get(input.crops_of) ?? [];
        const turns = input.turned_by !== undefined ? turned.get(input.turned_by) : undefined;
        // A page without text: no line requests at all.
        if (boxes.length > 0) decoded ??= await decodePage(Buffer.from(page, 'base64'), this.options.maxImagePixels);
        const crops = await Promise.all(boxes.map(async (b, i) => (await cropLine(decoded as NonNullable<typeof decoded>, lengthened(b.box, input.margin), { upsideDown: turns?.[i] === true })).toString('base64')));
        const { records, version } = await this.runStage(stage, crops, request, priority, stages);
        tally(records);
        linesOf.set(stage.name, records);
        if (stage.turns) {
          const { label, min_confidence } = stage.turns;
          turned.set(stage.name, records.map((r) => {
            const answer = r?.status === 'succeeded' ? (r.result as { label?: unknown; confidence?: number }) : undefined;
            return answer !== undefined && String(answer.label) === label && (answer.confidence ?? 0) >= min_confidence;
          }));
        }
        const failed = records.filter((r) => r?.status !== 'succeeded').length;
        if (failed > 0) this.options.logger.info({ job_id: request.id, stage: stage.name, version, failed }, 'pipeline lines failed alone');
      }
    } catch (error) {
      if (error instanceof InferqError) return outcome({ status: 'failed', error });
      throw error;
    }
    return outcome({ status: 'succeeded', result: this.textLines(boxesOf, linesOf, turned) });
  }

  /** The `text-lines` result: one line per box, in the detection's reading order. */
  private textLines(boxesOf: Map<string, DetectedBox[]>, linesOf: Map<string, (FinishedJobRecord | undefined)[]>, turned: Map<string, boolean[]>) {
    const { pipeline } = this.options;
    const textStage = pipeline.stages.find((s) => s.name === pipeline.result.text) as PipelineStage;
    const turnedBy = textStage.input !== 'request' ? textStage.input.turned_by : undefined;
    const turns = turnedBy !== undefined ? turned.get(turnedBy) : undefined;
    const records = linesOf.get(textStage.name) ?? [];
    const lines: LineResult[] = (boxesOf.get(pipeline.result.boxes) ?? []).map((b, i) => {
      const angle = normalisedAngle(b.angle + (turns?.[i] ? 180 : 0));
      const record = records[i];
      if (record?.status !== 'succeeded') {
        const version = record?.model_version ?? '';
        return { box: b.box, angle, error: stageError(textStage, record, version).toBody() };
      }
      const read = record.result as { text?: string; confidence?: number };
      return { text: read.text ?? '', confidence: read.confidence ?? 0, box: b.box, angle };
    });
    return { lines, text: lines.filter((l) => l.error === undefined).map((l) => l.text).join('\n') };
  }
}
