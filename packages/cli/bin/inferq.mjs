#!/usr/bin/env node
// Compiled JavaScript when it has been built (`npm run build`, the container image); otherwise,
// in a development checkout, the TypeScript source through tsx.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
