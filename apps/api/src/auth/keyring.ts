import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from '@inferq/core/config';
import type { Logger } from '@inferq/core/logger';

export type Scope = 'jobs' | 'admin';

export interface Principal {
  tenant: string;
  scopes: ReadonlySet<Scope>;
}

/** The tenant every request belongs to when no keys are configured (open development mode). */
export const DEFAULT_TENANT = 'default';
const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const digest = (key: string) => createHash('sha256').update(key).digest();

export interface KeyringOptions {
  /** `tenant:key` pairs from configuration. */
  apiKeys: readonly string[];
  /** Keys with the admin scope. */
  adminKeys: readonly string[];
  /** File of `tenant:key` lines, re-read when its mtime changes. Empty: none. */
  file?: string;
  /** How often the file's mtime is checked. Default: 2000 ms. */
  reloadIntervalMs?: number;
  logger: Logger;
}

interface Entry {
  hash: Buffer;
  principal: Principal;
}

function parsePairs(lines: readonly string[], source: string): Entry[] {
  return lines.flatMap((line) => {
    const text = line.trim();
    if (!text || text.startsWith('#')) return [];
    const at = text.indexOf(':');
    const tenant = text.slice(0, at);
    const key = text.slice(at + 1);
    if (at < 1 || !TENANT_PATTERN.test(tenant) || key.length < 8) {
      throw new ConfigError([`${source}: "${tenant || text.slice(0, 12)}…" is not tenant:key (tenant letters, digits, ._-; key 8+ characters)`]);
    }
    return [{ hash: digest(key), principal: { tenant, scopes: new Set<Scope>(['jobs']) } }];
  });
}

/**
 * API keys, held only as sha256 digests and compared in constant time. Keys from a file are
 * re-read when the file changes, so a key can be added, rotated or revoked without a restart.
 */
export class Keyring {
  private fileEntries: Entry[] = [];
  private readonly staticEntries: Entry[];
  private fileMtimeMs = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: KeyringOptions) {
    this.staticEntries = [
      ...parsePairs(options.apiKeys, 'INFERQ_API_KEYS'),
      ...options.adminKeys.map((key) => ({ hash: digest(key), principal: { tenant: 'admin', scopes: new Set<Scope>(['jobs', 'admin']) } })),
    ];
  }

  static async load(options: KeyringOptions): Promise<Keyring> {
    const keyring = new Keyring(options);
    if (options.file) {
      await keyring.reload();
      keyring.timer = setInterval(() => void keyring.reload().catch((error: Error) => options.logger.error({ err: error.message }, 'API key file not reloaded; the previous keys stay in force')), options.reloadIntervalMs ?? 2000);
      keyring.timer.unref();
    }
    return keyring;
  }

  /** Open mode: no key configured anywhere. */
  get open(): boolean {
    return this.staticEntries.length === 0 && this.fileEntries.length === 0 && !this.options.file;
  }

  private async reload(): Promise<void> {
    const file = this.options.file as string;
    const { mtimeMs } = await stat(file);
    if (mtimeMs === this.fileMtimeMs) return;
    const entries = parsePairs((await readFile(file, 'utf8')).split('\n'), file);
    this.fileEntries = entries;
    this.fileMtimeMs = mtimeMs;
    this.options.logger.info({ file, keys: entries.length }, 'API keys loaded');
  }

  /** The principal a bearer key stands for, if any. */
  authenticate(key: string): Principal | undefined {
    const hash = digest(key);
    let found: Principal | undefined;
    // Every entry is compared, so the time taken does not tell which (or whether one) matched.
    for (const entry of [...this.staticEntries, ...this.fileEntries]) {
      if (timingSafeEqual(entry.hash, hash)) found ??= entry.principal;
    }
    return found;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
