import { payloadTooLarge } from './json-body.ts';

/**
 * A request body read chunk by chunk as it arrives, failing with 413 PAYLOAD_TOO_LARGE once more
 * than `maxBytes` have come. hono's bodyLimit reads a chunked body whole into memory before the
 * route sees a byte, which for a batch upload of gigabytes is the whole file in RAM and an ingest
 * that cannot start until the upload ends; this never holds more than the chunk in hand.
 */
export async function* limitedBody(body: ReadableStream<Uint8Array>, maxBytes: number, setting: string): AsyncGenerator<Uint8Array> {
  let received = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    received += chunk.byteLength;
    if (received > maxBytes) throw payloadTooLarge(maxBytes, setting);
    yield chunk;
  }
}
