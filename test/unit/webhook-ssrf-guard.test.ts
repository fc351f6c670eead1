import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { after, before, describe, test } from 'node:test';
import { DeliveryClient } from '../../packages/webhooks/src/delivery-client.ts';
import { AddressPolicy, checkWebhookUrl, guardedLookup, type Resolver } from '../../packages/webhooks/src/ssrf-guard.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

// Every internal range, in the spellings resolvers and HTTP clients accept.
const REFUSED_ADDRESSES = [
  '127.0.0.1', '127.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '017700000001', '127.255.255.254',
  '::1', '[::1]', '::ffff:127.0.0.1', '::ffff:7f00:1', '[::ffff:127.0.0.1]',
  '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1', '::ffff:10.0.0.1', '::ffff:192.168.0.1',
  '169.254.169.254', '169.254.0.1', '::ffff:169.254.169.254', 'fe80::1', 'fe80::1%eth0',
  '100.64.0.1', '100.127.255.254',
  'fc00::1', 'fd12:3456:789a::1',
  '0.0.0.0', '0', '::', '0.1.2.3',
  '224.0.0.1', '239.255.255.250', 'ff02::1', '255.255.255.255',
  '64:ff9b::a00:1', '2002:7f00:1::1', '192.0.2.1', '240.0.0.1',
];
const PUBLIC_ADDRESSES = ['93.184.216.34', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];

describe('SSRF guard: the address policy', () => {
  const policy = new AddressPolicy();

  test('refuses loopback, private, link-local, CGNAT, unique-local, unspecified, multicast, broadcast in every spelling', () => {
    for (const address of REFUSED_ADDRESSES) {
      const verdict = policy.check(address);
      assert.equal(verdict.allowed, false, `${address} should be refused`);
    }
  });

  test('allows global unicast addresses, IPv4 and IPv6', () => {
    for (const address of PUBLIC_ADDRESSES) assert.equal(policy.check(address).allowed, true, `${address} should be allowed`);
  });

  test('names the range it refused, on the canonical address', () => {
    assert.deepEqual(policy.check('0x7f.1'), { allowed: false, address: '127.0.0.1', reason: '127.0.0.1 is a loopback address' });
    assert.deepEqual(policy.check('::ffff:169.254.169.254'), { allowed: false, address: '169.254.169.254', reason: '169.254.169.254 is a linkLocal address' });
    assert.equal(policy.check('example.com').allowed, false, 'a name is not an address');
  });

  test('an allow-list CIDR opens exactly its range, in any spelling of the address', () => {
    const open = new AddressPolicy(['127.0.0.0/8', '10.1.0.0/16', 'fd00::/8']);
    for (const address of ['127.0.0.1', '127.1', '::ffff:127.0.0.1', '2130706433', '10.1.2.3', 'fd00::5']) assert.equal(open.check(address).allowed, true, address);
    for (const address of ['10.2.0.1', '192.168.1.1', '::1', '169.254.169.254', 'fc00::1']) assert.equal(open.check(address).allowed, false, address);
    assert.equal(new AddressPolicy(['::ffff:10.0.0.0/104']).check('10.9.9.9').allowed, true, 'an IPv4-mapped CIDR covers its IPv4 range');
  });
});

describe('SSRF guard: webhook URLs at submit', () => {
  const policy = new AddressPolicy();

  test('refuses every internal address literal, however it is written in the URL', () => {
    const hosts = ['127.0.0.1', '127.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '[::1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '10.0.0.1',
      '172.16.0.1', '192.168.0.1', '169.254.169.254', '100.64.0.1', '[fc00::1]', '[fe80::1]', '0.0.0.0', '0', '[::]', '224.0.0.1', '255.255.255.255',
      'localhost', 'LOCALHOST.', 'api.localhost'];
    for (const host of hosts) {
      const verdict = checkWebhookUrl(`http://${host}:8080/hook`, policy);
      assert.equal(verdict.allowed, false, `${host} should be refused`);
    }
  });

  test('http and https only', () => {
    for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'example.com/hook', '/relative', '']) {
      assert.equal(checkWebhookUrl(url, policy).allowed, false, url);
    }
    const verdict = checkWebhookUrl('ftp://example.com/x', policy);
    assert.ok(!verdict.allowed && /http or https only/.test(verdict.reason));
  });

  test('public literals and host names pass (names are checked again when connecting)', () => {
    for (const url of ['https://hooks.example.com/inferq', 'http://93.184.216.34/x', 'https://[2606:4700:4700::1111]/x', 'https://user:pw@example.com:8443/x?y=1']) {
      assert.equal(checkWebhookUrl(url, policy).allowed, true, url);
    }
  });

  test('the allow-list lets on-premise receivers through', () => {
    const open = new AddressPolicy(['127.0.0.0/8', '10.0.0.0/8']);
    for (const url of ['http://127.0.0.1:9000/x', 'http://localhost/x', 'http://10.1.2.3/x']) assert.equal(checkWebhookUrl(url, open).allowed, true, url);
    assert.equal(checkWebhookUrl('http://192.168.0.1/x', open).allowed, false);
  });
});

/** A resolver that answers from a table, like DNS would for a name the attacker controls. */
function fakeDns(table: Record<string, string[]>, asked: string[] = []): Resolver {
  return async (hostname) => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

describe('SSRF guard at connect time (DNS rebinding)', () => {
  let receiver: WebhookReceiver;
  let port: string;
  before(async () => {
    receiver = await WebhookReceiver.start();
    port = new URL(receiver.baseUrl).port;
  });
  after(() => receiver.close());

  test('the lookup hands the socket only checked addresses, in the shape net.connect asks for', async () => {
    const lookup = guardedLookup(new AddressPolicy(), fakeDns({ 'public.test': ['93.184.216.34', '2606:4700:4700::1111'], 'mixed.test': ['93.184.216.34', '10.0.0.7'] }));
    const call = (host: string, options: object) =>
      new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
        lookup(host, options, (error, address, family) => resolve({ error, address, ...(family !== undefined ? { family } : {}) })),
      );
    assert.deepEqual((await call('public.test', { all: true })).address, [{ address: '93.184.216.34', family: 4 }, { address: '2606:4700:4700::1111', family: 6 }]);
    assert.deepEqual(await call('public.test', { family: 6 }), { error: null, address: '2606:4700:4700::1111', family: 6 });
    const mixed = await call('mixed.test', { all: true });
    assert.match(String(mixed.error?.message), /refused to connect to mixed\.test: 10\.0\.0\.7 is a private address/, 'one internal record refuses the name');
  });

  test('a name that resolves to a private address is refused when connecting, and nothing is sent', async () => {
    const asked: string[] = [];
    const url = receiver.script('/rebind', []).replace('127.0.0.1', 'rebind.attacker.test');
    const client = new DeliveryClient({ policy: new AddressPolicy(), resolve: fakeDns({ 'rebind.attacker.test': ['127.0.0.1'] }, asked), timeoutMs: 5000 });
    const response = await client.post(url, '{}', {});
    assert.deepEqual(asked, ['rebind.attacker.test'], 'the check ran on the resolution used for the connection');
    assert.equal(response.ok, false);
    assert.equal(response.statusCode, null);
    assert.match(response.error ?? '', /refused to connect to rebind\.attacker\.test: 127\.0\.0\.1 is a loopback address/);
    assert.equal(receiver.at('/rebind').length, 0);
  });

  test('a name that passed at submit but resolves to a metadata address later is refused', async () => {
    const policy = new AddressPolicy();
    assert.equal(checkWebhookUrl('http://flip.attacker.test/x', policy).allowed, true);
    const client = new DeliveryClient({ policy, resolve: fakeDns({ 'flip.attacker.test': ['169.254.169.254'] }) });
    const response = await client.post('http://flip.attacker.test/x', '{}', {});
    assert.match(response.error ?? '', /169\.254\.169\.254 is a linkLocal address/);
  });

  test('an address literal is checked before connecting (no lookup happens for literals)', async () => {
    const client = new DeliveryClient({ policy: new AddressPolicy() });
    for (const host of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '2130706433', '0x7f.1']) {
      const response = await client.post(`http://${host}:${port}/literal`, '{}', {});
      assert.match(response.error ?? '', /refused to connect/, host);
    }
    assert.equal(receiver.at('/literal').length, 0);
  });

  test('with the allow-list, the client connects to exactly the address the lookup checked', async () => {
    receiver.script('/allowed', [{ status: 204 }]);
    const client = new DeliveryClient({ policy: new AddressPolicy(['127.0.0.0/8']), resolve: fakeDns({ 'receiver.internal.test': ['127.0.0.1'] }) });
    const response = await client.post(`http://receiver.internal.test:${port}/allowed`, '{"x":1}', { 'webhook-id': 'msg_1' });
    assert.equal(response.ok, true);
    assert.equal(response.statusCode, 204);
    const [hit] = receiver.at('/allowed');
    assert.equal(hit?.body, '{"x":1}');
    assert.equal(hit?.headers.host, `receiver.internal.test:${port}`);
    assert.equal(hit?.headers['webhook-id'], 'msg_1');
    assert.equal(hit?.headers['content-type'], 'application/json');
  });
});

describe('delivery client outcomes', () => {
  let receiver: WebhookReceiver;
  const client = new DeliveryClient({ policy: new AddressPolicy(['127.0.0.0/8']), timeoutMs: 300 });
  before(async () => {
    receiver = await WebhookReceiver.start();
  });
  after(() => receiver.close());

  test('3xx is a failure and the redirect is not followed', async () => {
    const url = receiver.script('/moved', [{ status: 302, headers: { location: `${receiver.baseUrl}/elsewhere` } }]);
    const response = await client.post(url, '{}', {});
    assert.equal(response.ok, false);
    assert.equal(response.statusCode, 302);
    assert.match(response.error ?? '', /redirects are not followed/);
    assert.equal(receiver.at('/elsewhere').length, 0);
  });

  test('Retry-After is reported; non-2xx is a failure', async () => {
    const url = receiver.script('/busy', [{ status: 503, headers: { 'retry-after': '7' } }]);
    const response = await client.post(url, '{}', {});
    assert.deepEqual({ ok: response.ok, statusCode: response.statusCode, retryAfterMs: response.retryAfterMs }, { ok: false, statusCode: 503, retryAfterMs: 7000 });
    assert.equal(typeof response.latencyMs, 'number');
  });

  test('no answer within the timeout is a failure with no status', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as { port: number };
    try {
      const response = await client.post(`http://127.0.0.1:${address.port}/`, '{}', {});
      assert.equal(response.ok, false);
      assert.equal(response.statusCode, null);
      assert.match(response.error ?? '', /no answer within 300 ms/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  test('a refused connection is a failure with the reason', async () => {
    const response = await client.post('http://127.0.0.1:1/', '{}', {});
    assert.equal(response.ok, false);
    assert.match(response.error ?? '', /ECONNREFUSED/);
  });
});
