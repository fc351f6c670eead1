import type { RawTensor } from './tensor-codec.ts';
import type { ThreadPolicy } from './thread-policy.ts';

/** What an inference thread is started with. */
export interface ThreadInit {
  entry: string;
  modelPath: string;
  policy: ThreadPolicy;
  /** Tried in order; the first that creates a session wins. */
  executionProviders: string[];
  /** One input per model input, batch dimension 1, run once before the thread reports ready. */
  warmupFeeds: Record<string, RawTensor>;
}

export type ThreadRequest = { id: number; feeds: Record<string, RawTensor> };

export type ThreadMessage =
  | { kind: 'ready'; provider: string; warnings: string[]; warmupMs: number }
  | { kind: 'init-failed'; message: string }
  | { kind: 'result'; id: number; outputs: Record<string, RawTensor>; inferenceMs: number }
  | { kind: 'run-failed'; id: number; message: string };
