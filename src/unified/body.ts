import type { Context } from 'hono';
import type { z } from 'zod';
import type { Env } from '../env';
import { assertModelChoice } from '../forward/model-choice';
import { type Operation, parseJsonBody } from '../forward/operation';
import { GatewayError } from '../errors';

/**
 * A unified route's JSON body, checked against a schema of what the gateway reads of it; fields that
 * choose other models are refused for a user with a `models` allow-list.
 */
export async function readBody<Body extends Record<string, unknown>>(c: Context<Env>, operation: Pick<Operation, 'path' | 'kind'>, schema: z.ZodType<Body>) {
  const body = parseJsonBody({ ...operation, schema }, await c.req.arrayBuffer(), c.req.header('content-type'));
  if (!body) throw new GatewayError(400, 'the request body must be JSON (content-type: application/json)', 'invalid_body');
  assertModelChoice(c.get('user'), c.get('userName'), body);
  return body as Body;
}
