import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * Who owns a private Redis's data directory. Each claim is a file `owner.<n>.json` in the
 * directory, created whole with link(2), which fails if the file exists: of two starts that race
 * for generation n, exactly one wins. The highest generation is the owner; a claim of n + 1 is only
 * tried once generation n is judged over (its launcher dead, its server stopped or ours to stop),
 * and the winner then deletes the older files. The newest file is never deleted, so generation
 * numbers never repeat and a slow loser cannot win a generation that was already decided.
 */
export interface OwnerRecord {
  /** The `npm start` process that owns the directory. */
  launcherPid: number;
  /** The checkout that launcher runs from. */
  checkout: string;
  claimedAt: string;
  /** Process group of the watchdog that runs redis-server; set once it is spawned. */
  watchdogPid?: number;
  /** Set once redis-server answers: how to find it and tell it apart from a later server. */
  server?: RecordedServer;
  /** Set by a clean stop: nothing runs on the directory any more. */
  stoppedAt?: string;
}

export interface RecordedServer {
  pid: number;
  port: number;
  /** INFO's run_id: a server answering on `port` is this one only if its run_id matches. */
  runId: string;
}

export interface DataDirClaim {
  dir: string;
  /** The owner file this claim wrote. */
  file: string;
  readonly record: OwnerRecord;
  /** Rewrites the owner file with these fields changed (atomically, by rename). */
  update(patch: Partial<OwnerRecord>): Promise<void>;
}

export interface ClaimOptions {
  /** The checkout of the claiming launcher; a live server of another checkout is never stopped. */
  checkout: string;
  /** The claiming launcher. Default: this process. */
  launcherPid?: number;
  /** How long a left-over server of this checkout may take to stop. Default: 60 000 ms. */
  stopTimeoutMs?: number;
  /** Told what is being done about a left-over server. Default: console.error. */
  notice?: (message: string) => void;
}

/** The directory has a live owner that is not this launcher; the message names it. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: OwnerRecord,
    readonly ownerFile: string,
    description: string,
  ) {
    super(`${dir} is in use by ${description} (recorded in ${ownerFile}). Stop that one first, or give this start its own data directory with INFERQ_DATA_DIR.`);
    this.name = 'DataDirInUseError';
  }
}

const OWNER_FILE = /^owner\.(\d+)\.json$/;
const MAX_ATTEMPTS = 50;
const STOPPING_WAIT_MS = 10_000;

/**
 * Makes this launcher the only owner of dir, or throws DataDirInUseError naming the live owner.
 * A stale claim (its launcher and server gone) is taken over; a server left running by an earlier
 * start of the same checkout is stopped cleanly (SIGTERM: Redis writes its AOF and exits) first.
 */
export async function claimDataDir(dir: string, options: ClaimOptions): Promise<DataDirClaim> {
  const launcherPid = options.launcherPid ?? process.pid;
  const notice = options.notice ?? ((message: string) => console.error(message));
  const ours: OwnerRecord = { launcherPid, checkout: options.checkout, claimedAt: new Date().toISOString() };
  await mkdir(dir, { recursive: true });

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await readCurrentOwner(dir);
    if (current === 'changed') continue;
    const generation = current ? current.generation + 1 : 1;
    const previous = current?.record;
    let leftRunning: RecordedServer | undefined;

    if (current && previous && !previous.stoppedAt) {
      const server = previous.server;
      if (previous.launcherPid !== launcherPid && isAlive(previous.launcherPid)) {
        const serving = server ? `, whose redis-server (pid ${server.pid}) listens on port ${server.port}` : ', whose redis-server is still starting';
        throw new DataDirInUseError(dir, previous, current.file, `npm start (pid ${previous.launcherPid}) of ${previous.checkout}${serving}`);
      }
      if (server && (await answersAs(server))) {
        if (previous.checkout !== options.checkout) {
          throw new DataDirInUseError(dir, previous, current.file, `redis-server (pid ${server.pid}) on port ${server.port}, left running by npm start of ${previous.checkout}`);
        }
        leftRunning = server;
      } else if (previous.watchdogPid !== undefined && isGroupAlive(previous.watchdogPid)) {
        // Its launcher is gone, so its watchdog is stopping it: let Redis finish writing its AOF.
        if (!(await waitUntil(() => !isGroupAlive(previous.watchdogPid ?? 0), STOPPING_WAIT_MS))) {
          throw new DataDirInUseError(dir, previous, current.file, `the redis-server of an earlier npm start (process group ${previous.watchdogPid}), still stopping after ${STOPPING_WAIT_MS / 1000} s`);
        }
        continue;
      }
    }

    const file = path.join(dir, `owner.${generation}.json`);
    if (!(await createExclusive(file, ours))) continue;
    await removeOlderClaims(dir, generation);
    if (leftRunning) {
      notice(`inferq: stopping redis-server pid ${leftRunning.pid} (port ${leftRunning.port}), left running on ${dir} by an earlier npm start of this checkout`);
      await stopServer(leftRunning, options.stopTimeoutMs ?? 60_000);
    }
    return ownedClaim(dir, file, ours);
  }
  throw new Error(`could not claim ${dir}: its owner files kept changing (${MAX_ATTEMPTS} attempts)`);
}

/** The newest owner file, 'changed' when it vanished while read (a claim just replaced it). */
async function readCurrentOwner(dir: string): Promise<{ generation: number; file: string; record: OwnerRecord } | undefined | 'changed'> {
  const generations = (await readdir(dir)).map((name) => Number(OWNER_FILE.exec(name)?.[1] ?? NaN)).filter((n) => Number.isSafeInteger(n));
  if (generations.length === 0) return undefined;
  const generation = Math.max(...generations);
  const file = path.join(dir, `owner.${generation}.json`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'changed';
    throw error;
  }
  try {
    return { generation, file, record: JSON.parse(text) as OwnerRecord };
  } catch {
    throw new Error(`${file} is not an owner record inferq wrote; delete it if no inferq runs on ${dir}`);
  }
}

/** Writes record to a temporary file, then links it to `file`: it appears whole, and only once. */
async function createExclusive(file: string, record: OwnerRecord): Promise<boolean> {
  const temporary = temporaryPath(file);
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
  try {
    await link(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

function ownedClaim(dir: string, file: string, initial: OwnerRecord): DataDirClaim {
  let record = initial;
  // One write at a time, each of the record as it was when asked, so the last asked lands last.
  let writing = Promise.resolve();
  const write = async (snapshot: OwnerRecord) => {
    const temporary = temporaryPath(file);
    await writeFile(temporary, `${JSON.stringify(snapshot, null, 2)}\n`);
    await rename(temporary, file);
  };
  return {
    dir,
    file,
    get record() {
      return record;
    },
    update(patch) {
      record = { ...record, ...patch };
      const snapshot = record;
      writing = writing.catch(() => undefined).then(() => write(snapshot));
      return writing;
    },
  };
}

function temporaryPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

async function removeOlderClaims(dir: string, generation: number): Promise<void> {
  for (const name of await readdir(dir)) {
    const older = Number(OWNER_FILE.exec(name)?.[1] ?? NaN);
    if (older < generation) await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isGroupAlive(pgid: number): boolean {
  return pgid > 0 && isAlive(-pgid);
}

/** True if a Redis answers on the recorded port with the recorded run_id: that very server. */
async function answersAs(server: RecordedServer): Promise<boolean> {
  const client = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const info = await client.info('server');
    return /^run_id:(\w+)/m.exec(info)?.[1] === server.runId;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function stopServer(server: RecordedServer, timeoutMs: number): Promise<void> {
  try {
    process.kill(server.pid, 'SIGTERM');
  } catch {
    return;
  }
  if (!(await waitUntil(() => !isAlive(server.pid), timeoutMs))) {
    throw new Error(`redis-server pid ${server.pid} (port ${server.port}) did not stop within ${timeoutMs / 1000} s of SIGTERM; stop it yourself, then start again`);
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
