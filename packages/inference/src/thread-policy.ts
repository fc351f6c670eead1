import { readlinkSync } from 'node:fs';
import os from 'node:os';
import type { InferenceSession } from 'onnxruntime-node';

/**
 * How an inference thread's onnxruntime session shares the machine with the worker's event loop.
 * The defaults (resolved in packages/core/src/config.ts) give the model every core, and the
 * event loop the first claim on them: see the README's thread policy section for the numbers.
 */
export interface ThreadPolicy {
  /** onnxruntime intra-op threads of the session (the calling thread counts as one). */
  intraOpThreads: number;
  /**
   * Whether idle intra-op threads spin-wait for the next operator instead of sleeping. Spinning
   * saves microseconds per operator but burns the cores the event loop needs between runs.
   * Default: false.
   */
  spinning?: boolean;
  /**
   * onnxruntime's `session.dynamic_block_base`: parallel loops are cut into shrinking blocks that
   * idle threads take, so a thread the kernel preempted (for the event loop) delays its operator
   * by one small block instead of its whole share. 0: onnxruntime's static split. Default: 0.
   */
  dynamicBlockBase?: number;
  /**
   * Added to the nice value of the inference thread, before its session (and so its intra-op
   * threads, which inherit it) is created: the kernel then runs the event loop first whenever
   * it has work, and inference on every core otherwise. Linux only (elsewhere nothing changes).
   * Default: 0.
   */
  niceIncrement?: number;
}

/** The session options a policy stands for; the benches' baselines use them too. */
export function sessionThreadOptions(policy: ThreadPolicy): Pick<InferenceSession.SessionOptions, 'intraOpNumThreads' | 'interOpNumThreads' | 'executionMode' | 'extra'> {
  const session: Record<string, unknown> = { intra_op: { allow_spinning: policy.spinning ? '1' : '0' } };
  if (policy.dynamicBlockBase) session.dynamic_block_base = String(policy.dynamicBlockBase);
  return {
    intraOpNumThreads: policy.intraOpThreads,
    // inferq's models are chains of operators: 'parallel' execution only adds an idle thread pool.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session },
  };
}

/**
 * Lowers the calling thread's scheduling priority by `increment` (nice is per thread on Linux;
 * threads it creates afterwards inherit it). Returns a warning when it could not, undefined when
 * it did or there was nothing to do.
 */
export function lowerThisThreadPriority(increment: number): string | undefined {
  if (increment <= 0 || process.platform !== 'linux') return undefined;
  try {
    // /proc/thread-self links to /proc/<pid>/task/<tid>; os.setPriority(tid) then acts on this thread alone.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return 'could not find the inference thread\'s id; its priority is unchanged';
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + increment));
    return undefined;
  } catch (error) {
    return `could not lower the inference thread's priority (${(error as Error).message}); it runs at the process's`;
  }
}
