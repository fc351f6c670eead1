import { parseJsonOrUndefined } from './parse-json.ts';

/**
 * The message published on `Keyspace.modelsChangedChannel()`: a model version changed state on a
 * worker (`ready`, `failed`, `refused`, `unloaded`), or an operator asked for it to be unloaded
 * (`unloading`). API processes re-check their catalogue on it; workers drain and drop a version
 * being unloaded, and look for versions another worker found.
 */
export const MODEL_CHANGE_STATES = ['ready', 'failed', 'refused', 'unloading', 'unloaded'] as const;
export type ModelChangeState = (typeof MODEL_CHANGE_STATES)[number];

export interface ModelsChangedMessage {
  model: string;
  version: string;
  state: ModelChangeState;
}

export function encodeModelsChanged(message: ModelsChangedMessage): string {
  return JSON.stringify(message);
}

/** The message, or undefined when it is not one (from another program or a newer version): ignored by listeners. */
export function decodeModelsChanged(text: string): ModelsChangedMessage | undefined {
  const value = parseJsonOrUndefined(text);
  const m = value as Partial<ModelsChangedMessage> | null;
  if (!m || typeof m.model !== 'string' || typeof m.version !== 'string' || !MODEL_CHANGE_STATES.includes(m.state as ModelChangeState)) return undefined;
  return { model: m.model, version: m.version, state: m.state as ModelChangeState };
}
