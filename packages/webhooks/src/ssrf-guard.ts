import { InferqError } from '@inferq/core/errors';
import { promises as dns, type LookupAddress } from 'node:dns';
import net, { type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export type Verdict = { allowed: true; address: string } | { allowed: false; address: string; reason: string };

/**
 * Which addresses webhooks may reach. Only global unicast addresses are allowed by default:
 * loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT, unique-local,
 * unspecified, multicast, broadcast, reserved and the IPv6 ranges that embed an IPv4 address
 * (6to4, NAT64, Teredo) are refused, unless an allow-list CIDR covers the address. IPv4-mapped
 * IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it maps to.
 */
export class AddressPolicy {
  private readonly allow: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  /** `allowCidrs`: CIDRs reachable although their range is refused (INFERQ_WEBHOOK_ALLOW_CIDRS). */
  constructor(allowCidrs: readonly string[] = []) {
    this.allow = allowCidrs.map((cidr) => {
      const [address, bits] = ipaddr.parseCIDR(cidr);
      // An allow-list entry written as ::ffff:10.0.0.0/104 covers the IPv4 range it maps.
      return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
        ? [(address as ipaddr.IPv6).toIPv4Address(), bits - 96]
        : [address, bits];
    });
  }

  check(address: string): Verdict {
    const parsed = parseAddress(address);
    if (!parsed) return { allowed: false, address, reason: 'not an IP address' };
    const canonical = parsed.toString();
    if (this.allow.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return { allowed: true, address: canonical };
    const range = parsed.range();
    if (range === 'unicast') return { allowed: true, address: canonical };
    return { allowed: false, address: canonical, reason: `${canonical} is a ${range} address` };
  }
}

/**
 * Parses an address in any spelling a resolver or an HTTP client would accept (127.1, 2130706433,
 * 0177.0.0.1, 0x7f.1, [::ffff:7f00:1], fe80::1%eth0) and maps IPv4-mapped IPv6 to IPv4, so
 * no spelling slips past the range check.
 */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return undefined;
  return ipaddr.process(bare);
}

export type UrlVerdict = { allowed: true; url: URL } | { allowed: false; reason: string };

/**
 * The check at submit time, on the URL alone: http or https, and no address-literal host (or
 * `localhost`) the policy refuses. Host names are checked again, on the addresses they resolve
 * to, every time a delivery connects (see guardedLookup): a name that resolves to a private
 * address today may not have yesterday, and DNS rebinding is exactly that.
 */
export function checkWebhookUrl(raw: string, policy: AddressPolicy): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { allowed: false, reason: 'not an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { allowed: false, reason: `scheme ${url.protocol.slice(0, -1)} is not allowed: http or https only` };
  // The WHATWG parser has already rewritten IPv4 in decimal, octal, hex and short forms to dotted quads.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) return { allowed: false, reason: 'the URL has no host' };
  const name = host.toLowerCase().replace(/\.$/, '');
  const literal = net.isIP(host) ? host : name === 'localhost' || name.endsWith('.localhost') ? '127.0.0.1' : undefined;
  if (literal === undefined) return { allowed: true, url };
  const verdict = policy.check(literal);
  return verdict.allowed ? { allowed: true, url } : { allowed: false, reason: `${host}: ${verdict.reason}` };
}

/** Resolves a host name to every address it has. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/** A connection refused by the address policy; never retried on another address. */
export class AddressRefusedError extends Error {
  readonly code = 'EADDRREFUSED';
  constructor(
    readonly hostname: string,
    readonly verdict: Extract<Verdict, { allowed: false }>,
  ) {
    super(`refused to connect to ${hostname}: ${verdict.reason}`);
    this.name = 'AddressRefusedError';
  }
}

/**
 * A `lookup` for http(s).request / net.connect that resolves the name, checks every address,
 * and hands the socket only checked addresses: the check is on the address actually connected
 * to, so a name that resolves to a public address for a check and a private one for the connect
 * (DNS rebinding) never reaches the private one. A name with any refused address is refused
 * whole: mixing public and internal records is not something a legitimate receiver does.
 */
export function guardedLookup(policy: AddressPolicy, resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname)
      .then((addresses) => {
        if (addresses.length === 0) throw Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
        const checked: LookupAddress[] = [];
        for (const { address, family } of addresses) {
          const verdict = policy.check(address);
          if (!verdict.allowed) throw new AddressRefusedError(hostname, verdict);
          checked.push({ address, family });
        }
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const usable = family ? checked.filter((a) => a.family === family) : checked;
        const first = usable[0];
        if (!first) throw Object.assign(new Error(`no IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' });
        if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      })
      .catch((error: NodeJS.ErrnoException) => callback(error, ''));
  };
}

/** Refuses a webhook URL at submit, with the reason, rather than failing every delivery attempt later. */
export function assertWebhookUrl(url: string, policy: AddressPolicy): void {
  const verdict = checkWebhookUrl(url, policy);
  if (!verdict.allowed) throw new InferqError('WEBHOOK_URL_REFUSED', `webhook.url is refused: ${verdict.reason}`, { details: { url, reason: verdict.reason } });
}
