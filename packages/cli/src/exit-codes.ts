/**
 * Exit codes a crontab line or a shell script can act on (sysexits.h values where one fits).
 * Documented in the README; keep the two in step.
 */
export const EXIT = {
  /** Done: every row has a result. */
  OK: 0,
  /** Done, but some rows failed (their error lines are in the output). */
  ROWS_FAILED: 1,
  /** The batch was canceled, or the upload failed on the server. */
  BATCH_NOT_SUCCEEDED: 2,
  /** Wrong command line. */
  USAGE: 64,
  /** The input cannot be read, or the server refused the request (4xx). */
  DATA_ERROR: 65,
  /** The server cannot be reached, is overloaded (429) or answered 5xx: worth retrying later. */
  UNAVAILABLE: 69,
  /** --wait ran out (--timeout) before the batch finished. */
  TIMEOUT: 75,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
