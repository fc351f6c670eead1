#!/usr/bin/env node
// The CLI runs from TypeScript source, like the services: register the loader, then start it.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
