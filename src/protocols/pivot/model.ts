import * as z from 'zod';

/** A request's `model` field, with the message every route gives when it is missing. */
export const ModelField = z.string({ error: 'field "model" is required (a model id string)' }).min(1, 'field "model" must not be empty');
