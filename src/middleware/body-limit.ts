import { bodyLimit } from 'hono/body-limit';
import { errorResponse } from '../errors';

/** Largest request body forwarded upstream (audio uploads included). */
export const MAX_REQUEST_BYTES = 25 * 1024 * 1024;
/** Largest vault text accepted by PUT /ai.json.enc. */
export const MAX_VAULT_BYTES = 1024 * 1024;

const tooLarge = (limit: number) => () => errorResponse(413, `request body is larger than ${limit / (1024 * 1024)} MiB`, 'request_too_large');

export const requestBodyLimit = bodyLimit({ maxSize: MAX_REQUEST_BYTES, onError: tooLarge(MAX_REQUEST_BYTES) });
export const vaultBodyLimit = bodyLimit({ maxSize: MAX_VAULT_BYTES, onError: tooLarge(MAX_VAULT_BYTES) });
