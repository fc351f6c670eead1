import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { csvRows, lineBlocks, ndjsonRows, type SourceRow } from '../../packages/batch/src/row-sources.ts';

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? new TextEncoder().encode(part) : part;
}

async function all<T>(blocks: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const block of blocks) out.push(...block);
  return out;
}

describe('batch row sources', () => {
  test('lines split across chunks, and characters split across chunks, come out whole', async () => {
    const text = new TextEncoder().encode('{"name":"Zoë"}\n{"name":"日本"}\n{"last":true}');
    // Cut inside "ë" (2 bytes) and inside "日" (3 bytes).
    const cuts = [12, 26];
    const parts = [text.subarray(0, cuts[0]), text.subarray(cuts[0], cuts[1]), text.subarray(cuts[1])];
    assert.deepEqual(await all(lineBlocks(chunks(...parts))), ['{"name":"Zoë"}', '{"name":"日本"}', '{"last":true}']);
  });

  test('NDJSON: one row per line, blank lines skipped, a bad line is an error row in its place', async () => {
    const rows: SourceRow[] = await all(ndjsonRows(chunks('{"id":1}\r\n\n{"id"', ':2}\nnot json\n[1]\n')));
    assert.deepEqual(rows.slice(0, 2), [{ value: { id: 1 } }, { value: { id: 2 } }]);
    assert.equal('error' in rows[2]! && rows[2].error.code, 'MALFORMED_JSON');
    assert.equal('error' in rows[3]! && rows[3].error.code, 'INVALID_REQUEST');
    assert.equal(rows.length, 4);
  });

  test('CSV: the header names the features; a short row is an error row', async () => {
    const rows = await all(csvRows(chunks('id,amount,card_present\n7,12.5,true\n', '8,3\n')));
    assert.deepEqual(rows[0], { value: { id: '7', features: { amount: 12.5, card_present: true } } });
    assert.equal('error' in rows[1]! && rows[1].error.code, 'INVALID_REQUEST');
  });
});
