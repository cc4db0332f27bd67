import { env } from 'cloudflare:test';
import { expect, it } from 'vitest';
import app from '../../src/app';

it('answers unknown routes with the JSON error shape', async () => {
  const res = await app.request('/nope', {}, env);
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ error: { type: 'not_found_error' } });
});
