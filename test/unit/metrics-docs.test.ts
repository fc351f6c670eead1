import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Registry } from 'prom-client';
import { createApiMetrics, createWorkerMetrics } from '../../packages/metrics/src/metrics.ts';
import { REPO_ROOT } from '../support/services.ts';

/** What each registry declares (no collection runs, so no Redis is needed). At run time `type` is 'counter', 'gauge', ... */
function declared(registry: Registry): Map<string, { type: string; labels: string[] }> {
  return new Map(
    registry.getMetricsAsArray().map((m) => [m.name, { type: String(m.type), labels: [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])].sort() }]),
  );
}

const api = declared(createApiMetrics({ snapshot: async () => ({ models: [] }) }).registry);
const worker = declared(createWorkerMetrics({ versions: () => [] }).registry);
const inferq = new Map([...api, ...worker].filter(([name]) => name.startsWith('inferq_')));

/** Series names a metric exposes: histograms add _bucket, _sum and _count. */
function seriesNames(): Set<string> {
  const names = new Set<string>();
  for (const [name, { type }] of [...api, ...worker]) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('metrics documentation and dashboard match the code', () => {
  test('docs/metrics.md lists every inferq metric, with its type and labels, and no other', () => {
    const markdown = readFileSync(path.join(REPO_ROOT, 'docs/metrics.md'), 'utf8');
    const rows = markdown
      .slice(markdown.indexOf('| metric | type | labels |'))
      .split('\n')
      .slice(2)
      .filter((line, i, all) => line.startsWith('|') && all.slice(0, i).every((l) => l.startsWith('|')));
    const documented = new Map(
      rows.map((row) => {
        const [name = '', type = '', labels = ''] = row.split('|').slice(1).map((c) => c.trim());
        return [name.replace(/`/g, ''), { type, labels: labels.split(',').map((l) => l.replace(/`/g, '').trim()).filter(Boolean).sort() }] as const;
      }),
    );
    assert.deepEqual(Object.fromEntries(documented), Object.fromEntries(inferq));
  });

  test('metric names follow Prometheus conventions', () => {
    for (const [name, { type }] of inferq) {
      if (type === 'counter') assert.match(name, /_total$/, `${name}: counters end in _total`);
      else assert.doesNotMatch(name, /_total$/, `${name}: only counters end in _total`);
      assert.doesNotMatch(name, /_(ms|milliseconds|minutes)$/, `${name}: base units (seconds)`);
    }
  });

  test('docs/grafana-dashboard.json only queries metrics the processes register', () => {
    const dashboard = JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { definition?: string }[] };
    };
    const known = seriesNames();
    const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : []))];
    assert.ok(exprs.length >= 10);
    // Metric names: identifiers that start a selector or stand alone, not functions, keywords or labels.
    const referenced = new Set(exprs.flatMap((e) => [...e.replace(/\{[^}]*\}/g, '{}').matchAll(/\b((?:inferq|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1] as string)));
    assert.ok(referenced.size >= 8);
    for (const name of referenced) assert.ok(known.has(name), `the dashboard queries ${name}, which no process registers`);
    // Each launch metric has a panel.
    const titles = dashboard.panels.map((p) => p.title.toLowerCase());
    for (const wanted of ['throughput', 'submit to result', 'queue wait', 'inference time', 'batch size', 'error rate', 'traffic split', 'queue depth', 'webhook', 'event-loop lag']) {
      assert.ok(titles.some((t) => t.includes(wanted)), `a panel for ${wanted}`);
    }
  });

  test('the event-loop lag p99 the dashboard shows is among the default metrics', () => {
    assert.ok(api.has('nodejs_eventloop_lag_p99_seconds') && worker.has('nodejs_eventloop_lag_p99_seconds'));
  });
});
