#!/usr/bin/env node
// Compiled JavaScript when it has been built (`npm run build`, the container image); the
// TypeScript source through tsx in a development checkout that has no build, or when the
// `inferq-source` condition asks for sources (as `npm test` does: the workspace packages the
// CLI imports then resolve to their sources too).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/main.js', import.meta.url);
const sources = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('inferq-source'));
if (existsSync(compiled) && !sources) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
