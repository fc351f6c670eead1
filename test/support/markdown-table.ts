import assert from 'node:assert/strict';

/** Rows of the first markdown table after `afterText`, as cell arrays (header and rule skipped). */
export function tableRows(markdown: string, afterText: string): string[][] {
  const start = markdown.indexOf(afterText);
  assert.ok(start >= 0, `section "${afterText}" not found`);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}
