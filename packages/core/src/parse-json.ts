/** The value `text` holds, or undefined when it is not JSON: for codecs that skip what is not theirs. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
