import type { ChainableCommander } from 'ioredis';
import type { Redis } from './redis-connection.ts';

type Callable = (...args: (string | number | Buffer)[]) => Promise<unknown>;

/**
 * A Lua script registered on a connection under a name (ioredis `defineCommand`): sent as EVALSHA,
 * with the script text only once per connection (on NOSCRIPT), and usable in pipelines.
 * `numberOfKeys` undefined: the caller passes the key count first (variadic scripts).
 */
export class NamedCommand {
  constructor(
    readonly name: string,
    private readonly lua: string,
    private readonly numberOfKeys?: number,
  ) {}

  private ensure(target: Redis): void {
    if (typeof (target as unknown as Record<string, unknown>)[this.name] === 'function') return;
    target.defineCommand(this.name, this.numberOfKeys === undefined ? { lua: this.lua } : { lua: this.lua, numberOfKeys: this.numberOfKeys });
  }

  run(redis: Redis, ...args: (string | number | Buffer)[]): Promise<unknown> {
    this.ensure(redis);
    return ((redis as unknown as Record<string, Callable>)[this.name] as Callable).apply(redis, args);
  }

  /** Adds the call to a pipeline or MULTI of `redis` (the command must be defined on `redis`). */
  queue(redis: Redis, pipeline: ChainableCommander, ...args: (string | number | Buffer)[]): ChainableCommander {
    this.ensure(redis);
    return ((pipeline as unknown as Record<string, (...a: unknown[]) => ChainableCommander>)[this.name] as (...a: unknown[]) => ChainableCommander).apply(pipeline, args);
  }
}
