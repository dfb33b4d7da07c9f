// The per-client key of a connection: an IPv4 address as it is, an
// IPv4-mapped IPv6 address as its IPv4 address, any other IPv6 address as
// its /64, however it is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientKey } from '../../src/http/request.js';

test('client keys: IPv4 as is, IPv6 by /64 in one spelling', () => {
  const cases: Array<[string, string]> = [
    ['127.0.0.2', '127.0.0.2'],
    ['::ffff:127.0.0.3', '127.0.0.3'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['', ''],
  ];
  for (const [address, key] of cases) assert.equal(clientKey(address), key, address);
});
