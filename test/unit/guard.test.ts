import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorizeChange, isLoopback } from '../../src/admin/guard.js';

test('loopback peers are 127.0.0.0/8 and ::1, also IPv4-mapped', () => {
  for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['10.0.0.5', '192.168.1.2', '::ffff:10.0.0.5', 'fe80::1', '', undefined]) assert.ok(!isLoopback(a), String(a));
});

test('without a token, only loopback peers may change the mode (403 otherwise)', () => {
  assert.doesNotThrow(() => authorizeChange({ adminToken: undefined }, '127.0.0.1', undefined));
  assert.throws(() => authorizeChange({ adminToken: undefined }, '10.0.0.5', undefined), (e: any) => e.code === 'admin_forbidden' && e.status === 403);
});

test('with a token, every peer needs it, loopback included (401 otherwise)', () => {
  const options = { adminToken: 's3cret-token' };
  assert.doesNotThrow(() => authorizeChange(options, '10.0.0.5', 'Bearer s3cret-token'));
  for (const auth of [undefined, 'Bearer wrong', 'Basic s3cret-token', 'Bearer s3cret-token-longer']) {
    assert.throws(() => authorizeChange(options, '127.0.0.1', auth), (e: any) => e.code === 'admin_unauthorized' && e.status === 401, String(auth));
  }
});

test('loopback names: localhost, *.localhost, 127.0.0.0/8 and ::1 in any spelling; nothing else', async () => {
  const { isLoopbackName } = await import('../../src/admin/browser-guard.js');
  for (const name of ['localhost', 'LocalHost.', 'api.localhost', '127.0.0.1', '127.200.0.1', '::1', '[::1]']) assert.ok(isLoopbackName(name), name);
  for (const name of ['localhost.example', 'example.com', '10.0.0.1', '0.0.0.0', '[fe80::1]', '']) assert.ok(!isLoopbackName(name), name);
});
