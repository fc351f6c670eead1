import { CLIENT_ERROR_CODES, InferqError } from './client-errors.ts';

/**
 * The parsed lines of an NDJSON byte stream, one at a time: a results file of millions of lines
 * is never held whole. Blank lines are skipped; a line that is not JSON is an error.
 */
export async function* ndjsonLines<T>(body: AsyncIterable<Uint8Array>): AsyncGenerator<T, void, undefined> {
  const decoder = new TextDecoder();
  let pending = '';
  let lineNumber = 0;
  const parse = (line: string): T => {
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new InferqError(CLIENT_ERROR_CODES.UNEXPECTED_RESPONSE, `line ${lineNumber} of the results is not JSON: ${line.slice(0, 200)}`);
    }
  };
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    let start = 0;
    while (newline !== -1) {
      const line = pending.slice(start, newline);
      lineNumber++;
      if (line.trim() !== '') yield parse(line);
      start = newline + 1;
      newline = pending.indexOf('\n', start);
    }
    pending = pending.slice(start);
  }
  pending += decoder.decode();
  lineNumber++;
  if (pending.trim() !== '') yield parse(pending);
}
