import type { Redis } from './redis-connection.ts';

type Callable = (...args: (string | number | Buffer | readonly (string | number | Buffer)[])[]) => Promise<unknown>;

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

  /**
   * Registers the script on a connection. Call it when the connection is set up, before any
   * command is sent: ioredis copies a connection's scripts into each pipeline it opens (auto-
   * pipelines included), so a script defined while a pipeline is open breaks that pipeline.
   */
  define(target: Redis): void {
    if (typeof (target as unknown as Record<string, unknown>)[this.name] === 'function') return;
    target.defineCommand(this.name, this.numberOfKeys === undefined ? { lua: this.lua } : { lua: this.lua, numberOfKeys: this.numberOfKeys });
  }

  private ensure(target: Redis): void {
    if (typeof (target as unknown as Record<string, unknown>)[this.name] !== 'function') throw new Error(`${this.name} is not defined on this connection: define it at start-up`);
  }

  run(redis: Redis, ...args: (string | number | Buffer)[]): Promise<unknown> {
    return this.runWith(redis, args);
  }

  /**
   * The same with the arguments as one array, however many: they reach ioredis as a single
   * argument (it flattens arrays), since passing each as a JavaScript argument overflows the call
   * stack past about 100,000 of them (a large batch chunk with its prediction log entries).
   */
  runWith(redis: Redis, args: readonly (string | number | Buffer)[]): Promise<unknown> {
    this.ensure(redis);
    return ((redis as unknown as Record<string, Callable>)[this.name] as Callable).call(redis, args);
  }
}
