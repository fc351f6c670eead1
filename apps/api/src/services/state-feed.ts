import type { StateNotice } from './event-hub.ts';

/** One Server-Sent Event: `id` is derived from the state, so a resumed stream knows what its client saw. */
export interface OutgoingEvent {
  id: string;
  event: string;
  data: unknown;
}

/** What an event stream follows: a job or a batch, read as GET reads it. */
export interface StateFeed<V> {
  /** The ids whose notices concern it (a job also follows its bundle, whose start is announced once for all its requests). */
  ids: string[];
  /** The state now; throws the same 404 as GET for an unknown id or another tenant's. */
  read(): Promise<V>;
  /** The state after a notice. */
  afterNotice(notice: StateNotice): Promise<V>;
  /** The events that take a client who saw event `seen` (undefined: none yet) to `view`; empty when it has seen it. */
  eventsSince(seen: number | undefined, view: V): OutgoingEvent[];
  /** The event id of `view`, a number that grows as the state moves on. */
  sequence(view: V): number;
  isFinal(view: V): boolean;
}

/** A Last-Event-ID as the feeds write them (a non-negative integer); anything else counts as none. */
export function parseLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}
