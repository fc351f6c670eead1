import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/services.ts';

const run = promisify(execFile);
const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const compose = readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8');

/** The Dockerfile's instructions of one stage (`FROM … AS name`), continuation lines joined. */
function stage(name: string): string[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => new RegExp(`^FROM\\s.+\\sAS\\s+${name}$`, 'i').test(l));
  assert.ok(start >= 0, `the Dockerfile has a stage named ${name}`);
  const end = lines.findIndex((l, i) => i > start && /^FROM\s/i.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l && !l.startsWith('#'));
}

/** `COPY src… dest` from the build context (not --from another stage), as [source, destination] pairs. */
function contextCopies(instructions: string[]): [string, string][] {
  return instructions
    .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
    .flatMap((l) => {
      const words = l.split(/\s+/).slice(1);
      const dest = words.pop() as string;
      // As docker does: a file into a directory keeps its name; a directory's contents go into dest.
      const intoDirectory = (src: string) => (dest.endsWith('/') || dest === './') && !statSync(path.join(REPO_ROOT, src)).isDirectory();
      return words.map((src): [string, string] => [src, intoDirectory(src) ? path.join(dest, path.basename(src)) : dest]);
    });
}

/** `docker compose` (plugin) or `docker-compose` (standalone), whichever this machine has. */
function composeCommand(): string[] | undefined {
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    const probe = spawnSync(candidate[0] as string, [...candidate.slice(1), 'version'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** Every workspace's package.json, repository-relative (apps/*, packages/*). */
const WORKSPACES = ['apps', 'packages']
  .flatMap((root) => readdirSync(path.join(REPO_ROOT, root)).map((name) => `${root}/${name}/package.json`))
  .filter((manifest) => existsSync(path.join(REPO_ROOT, manifest)));

describe('every workspace is built to dist/ and shipped', () => {
  const readJson = (file: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
  const rootReferences = (readJson('tsconfig.build.json').references as { path: string }[]).map((r) => path.normalize(r.path));
  const runtimeCopies = stage('runtime').filter((l) => /^COPY\s+--from=build\s/.test(l));

  for (const manifest of WORKSPACES) {
    const dir = path.dirname(manifest);
    test(`${dir}: built by tsc -b, resolved to dist/ by default and to src/ under inferq-source, copied into the image`, () => {
      const pkg = readJson(manifest) as { name: string; exports: Record<string, unknown>; dependencies?: Record<string, string> };
      assert.ok(rootReferences.includes(path.join(dir, 'tsconfig.build.json')), `tsconfig.build.json references ${dir}/tsconfig.build.json`);
      const build = readJson(path.join(dir, 'tsconfig.build.json')) as { extends: string; compilerOptions: { outDir: string; rootDir: string }; references?: { path: string }[] };
      assert.equal(build.extends, '../../tsconfig.build-base.json');
      assert.deepEqual([build.compilerOptions.rootDir, build.compilerOptions.outDir], ['src', 'dist']);
      // Project references follow the workspace's own @inferq dependencies, so tsc builds them first.
      const referenced = (build.references ?? []).map((r) => path.basename(path.dirname(path.resolve(REPO_ROOT, dir, r.path)))).sort();
      const dependsOn = Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@inferq/')).map((d) => d.slice('@inferq/'.length)).sort();
      assert.deepEqual(referenced, dependsOn, `${dir}/tsconfig.build.json references its @inferq dependencies`);
      for (const [subpath, target] of Object.entries(pkg.exports)) {
        assert.equal(typeof target, 'object', `${pkg.name} exports ${subpath} by condition`);
        const { 'inferq-source': source, default: compiled } = target as Record<string, string>;
        assert.match(source ?? '', /^\.\/src\/.+\.ts$/, `${pkg.name} ${subpath}: inferq-source → ./src/*.ts`);
        assert.equal(compiled, source?.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js'), `${pkg.name} ${subpath}: default → the same file in ./dist, as .js`);
        assert.equal(Object.keys(target as object)[0], 'inferq-source', 'the source condition comes first, or it never matches');
      }
      assert.ok(
        runtimeCopies.some((l) => l === `COPY --from=build /app/${dir}/dist ${dir}/dist`),
        `the Dockerfile's runtime stage copies ${dir}/dist`,
      );
    });
  }
});

describe('the image and the compose file', () => {
  test('the Dockerfile installs production dependencies only, runs compiled code as a non-root user on a current Node LTS, with a healthcheck', () => {
    const runtime = stage('runtime');
    assert.ok(runtime.some((l) => /^RUN\s.*npm ci --omit=dev/.test(l)), 'npm ci --omit=dev in the final stage');
    assert.ok(runtime.some((l) => /^USER\s+node$/.test(l)), 'runs as the node user');
    assert.ok(runtime.some((l) => /^HEALTHCHECK\s/.test(l)), 'a HEALTHCHECK');
    assert.match(runtime.find((l) => /^CMD\s/.test(l)) ?? '', /"node", "apps\/api\/dist\/main\.js"/);
    assert.doesNotMatch(dockerfile, /tsx/, 'no TypeScript loader at run time');
    const base = /^FROM node:(\d+)-/m.exec(dockerfile)?.[1];
    assert.ok(base === '22' || base === '24', `a Node LTS base image (got ${base})`);
    const pinned = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).packageManager as string;
    assert.match(dockerfile, new RegExp(`npm install -g ${pinned.replace('.', '\\.')}`), `npm pinned to ${pinned}`);
  });

  test('an npm ci --omit=dev from the Dockerfile\'s own copy list links every workspace, the CLI bin included', async () => {
    const copies = contextCopies(stage('manifests'));
    const sources = copies.map(([src]) => src);
    for (const manifest of WORKSPACES) assert.ok(sources.includes(manifest), `the Dockerfile copies ${manifest} before npm ci`);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-image-install-'));
    try {
      for (const [src, dest] of copies) {
        mkdirSync(path.dirname(path.join(dir, dest)), { recursive: true });
        cpSync(path.join(REPO_ROOT, src), path.join(dir, dest), { recursive: true });
      }
      // From the local cache (the checkout's own npm ci filled it): no registry, no install scripts.
      await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' } });
      for (const manifest of WORKSPACES) {
        const { name } = JSON.parse(readFileSync(path.join(REPO_ROOT, manifest), 'utf8')) as { name: string };
        const link = path.join(dir, 'node_modules', name);
        assert.ok(lstatSync(link).isSymbolicLink(), `${name} is linked`);
        assert.equal(path.resolve(path.dirname(link), readlinkSync(link)), path.join(dir, path.dirname(manifest)));
      }
      assert.ok(lstatSync(path.join(dir, 'node_modules/.bin/inferq')).isSymbolicLink(), 'the inferq bin is linked');
      // (TypeScript stays: bull-board's valibot names it as an optional peer, which npm keeps;
      // the Dockerfile deletes it after the install.)
      for (const dev of ['tsx', 'turbo', 'pino-pretty', 'standardwebhooks']) {
        assert.equal(existsSync(path.join(dir, 'node_modules', dev)), false, `${dev} is a dev dependency and stays out`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('docker compose config accepts the compose file; ports are published on loopback only; commands run compiled code', async (t) => {
    const command = composeCommand();
    if (!command) {
      t.skip('no docker compose client on this machine (.ci/run installs one)');
      return;
    }
    await run(command[0] as string, [...command.slice(1), '--file', path.join(REPO_ROOT, 'docker-compose.yml'), 'config', '--quiet'], { cwd: REPO_ROOT });

    const published = [...compose.matchAll(/^\s+-\s+"([^"]+:\d+)"\s*$/gm)].map((m) => m[1] as string);
    assert.deepEqual(published.sort(), ['127.0.0.1:3000:3000', '127.0.0.1:6379:6379']);
    const commands = [...compose.matchAll(/^\s+command:\s+(\[.+\])\s*$/gm)].map((m) => JSON.parse(m[1] as string) as string[]);
    const services = commands.filter((c) => c[0] === 'node');
    assert.equal(services.length, 3, 'the api, the worker and the gpu worker');
    for (const c of services) {
      assert.deepEqual(c.slice(0, 1), ['node']);
      assert.match(c[1] as string, /^apps\/(api|worker)\/dist\/main\.js$/);
    }
    assert.doesNotMatch(compose, /tsx/);
  });
});
