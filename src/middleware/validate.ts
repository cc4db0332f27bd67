import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type * as z from 'zod';
import { GatewayError } from '../errors';
import { describeIssues } from '../vault/schema';

const WHAT: Partial<Record<keyof ValidationTargets, string>> = { json: 'body', query: 'query parameter', param: 'path parameter' };

/**
 * @hono/zod-validator with the gateway's error shape: a 400 that names each bad field
 * (`invalid body: rpm: Too small: expected number to be >0`).
 */
export const validate = <T extends z.ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) =>
  zValidator(target, schema, (result) => {
    if (!result.success) throw new GatewayError(400, `invalid ${WHAT[target] ?? target}: ${describeIssues(result.error)}`, 'invalid_request');
  });
