import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_SPEC } from '../../packages/core/src/config.ts';
import { ERROR_CATALOGUE } from '../../packages/core/src/errors.ts';
import { tableRows } from '../support/markdown-table.ts';
import { REPO_ROOT } from '../support/services.ts';

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

describe('documentation matches the code', () => {
  test('docs/errors.md lists every error code with its HTTP status, and no other', () => {
    const rows = tableRows(readFileSync(path.join(REPO_ROOT, 'docs/errors.md'), 'utf8'), '| code | HTTP |');
    const documented = Object.fromEntries(rows.map(([code, status]) => [unquote(code ?? ''), Number(status)]));
    const actual = Object.fromEntries(Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, e.status]));
    assert.deepEqual(documented, actual);
  });

  test('the README configuration table lists every variable with its default, and no other', () => {
    const rows = tableRows(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8'), '## Configuration');
    const documented = Object.fromEntries(rows.map(([env, def]) => [unquote(env ?? ''), def === '(empty)' ? '' : unquote(def ?? '')]));
    const actual = Object.fromEntries(Object.values(CONFIG_SPEC).map((s) => [s.env, s.default]));
    assert.deepEqual(documented, actual);
  });
});
