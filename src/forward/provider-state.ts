import { GatewayError } from '../errors';
import type { Provider } from '../vault/schema';

// State a provider keeps (stored responses and their items, conversations, prompts, uploaded files,
// vector stores, containers, cached contents) lives under the operator's keys, which every user
// shares: whoever learns an id reaches it. Unless the operator allows it for a provider (the vault's
// `providerState`), every call sent upstream is checked here: one that names such state is refused
// before anything is sent, and Responses and Chat Completions go with `store: false`, so the provider
// keeps no one's turns. The gateway's own stored responses never reach a provider as ids: the unified
// route sends their turns as input (unified/responses.ts).

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const given = (value: unknown) => value !== undefined && value !== null;

const CHAT_COMPLETIONS = /^(?:[a-z]+\/)?chat\/completions$/;
const GEMINI_NATIVE = /^models\/[^/:]+:/;

/** Where a content block holds the client's own data (tool arguments and results): never a provider's id. */
const OWN_DATA = new Set(['input', 'args', 'response']);

/** A reasoning item the provider looks up in its store by id: it does not carry its encrypted_content. */
export const isStoredReasoning = (item: unknown) => isObject(item) && item.type === 'reasoning' && given(item.id) && !given(item.encrypted_content);

/** A Gemini `fileUri` naming an upload of its Files API: anything but an http(s) URL elsewhere (a YouTube video). */
function isGeminiUpload(uri: unknown): boolean {
  if (typeof uri !== 'string') return false;
  try {
    const url = new URL(uri);
    return !/^https?:$/.test(url.protocol) || url.hostname === 'generativelanguage.googleapis.com';
  } catch {
    return true;
  }
}

/** The path of the first uploaded file named inside content: a `file_id` (OpenAI, Anthropic) or a Gemini Files API `fileData`. */
function storedFile(value: unknown, path: string): string | undefined {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = storedFile(item, `${path}[${index}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (!isObject(value)) return undefined;
  if (given(value.file_id)) return `${path}.file_id`;
  for (const key of ['fileData', 'file_data']) {
    const data = value[key];
    if (isObject(data) && isGeminiUpload(data.fileUri ?? data.file_uri)) return `${path}.${key}`;
  }
  for (const [key, inner] of Object.entries(value)) {
    const found = OWN_DATA.has(key) ? undefined : storedFile(inner, `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}

/** Responses tools that work on the provider's state: vector stores (file_search), containers and their files, a mask by file id. */
function toolState(tool: unknown): string | undefined {
  if (!isObject(tool)) return undefined;
  if (given(tool.vector_store_ids)) return 'vector_store_ids';
  if (typeof tool.container === 'string') return 'container';
  if (isObject(tool.container) && given(tool.container.file_ids)) return 'container.file_ids';
  if (isObject(tool.input_image_mask) && given(tool.input_image_mask.file_id)) return 'input_image_mask.file_id';
  return undefined;
}

function responsesState(json: Json): string | undefined {
  const named = ['previous_response_id', 'conversation'].find((name) => given(json[name]));
  if (named) return named;
  if (isObject(json.prompt) && given(json.prompt.id)) return 'prompt.id';
  if (Array.isArray(json.input)) {
    for (const [index, item] of json.input.entries()) {
      if (isObject(item) && item.type === 'item_reference') return `input[${index}] (an item_reference)`;
      if (isStoredReasoning(item)) return `input[${index}].id (a reasoning item without its encrypted_content)`;
      const found = storedFile(item, `input[${index}]`);
      if (found) return found;
    }
  }
  if (!Array.isArray(json.tools)) return undefined;
  for (const [index, tool] of json.tools.entries()) {
    const found = toolState(tool);
    if (found) return `tools[${index}].${found}`;
  }
  return undefined;
}

/** The first uploaded file named in the content of `messages` (Chat Completions, Anthropic Messages). */
function messageFiles(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  for (const [index, message] of messages.entries()) {
    const found = isObject(message) ? storedFile(message.content, `messages[${index}].content`) : undefined;
    if (found) return found;
  }
  return undefined;
}

function chatState(json: Json): string | undefined {
  // A previous audio answer, kept by OpenAI for the next turn.
  const audio = Array.isArray(json.messages)
    ? json.messages.findIndex((message) => isObject(message) && isObject(message.audio) && given(message.audio.id))
    : -1;
  if (audio >= 0) return `messages[${audio}].audio.id`;
  const file = messageFiles(json.messages);
  if (file) return file;
  // Gemini's OpenAI-compatible layer takes a context cache there.
  const google = isObject(json.extra_body) && isObject(json.extra_body.google) ? json.extra_body.google : undefined;
  return google && given(google.cached_content) ? 'extra_body.google.cached_content' : undefined;
}

function geminiState(json: Json, prefix = ''): string | undefined {
  const cached = ['cachedContent', 'cached_content'].find((name) => given(json[name]));
  if (cached) return `${prefix}${cached}`;
  for (const key of ['contents', 'systemInstruction', 'system_instruction', 'content', 'requests']) {
    const found = storedFile(json[key], `${prefix}${key}`);
    if (found) return found;
  }
  const nested = json.generateContentRequest;
  return isObject(nested) ? geminiState(nested, 'generateContentRequest.') : undefined;
}

/** The first field of a body that names state kept at the provider, by operation (undefined: none). */
function stateField(operation: string, json: Json): string | undefined {
  if (operation === 'responses') return responsesState(json);
  if (CHAT_COMPLETIONS.test(operation)) return chatState(json);
  if (operation === 'messages' || operation === 'messages/count_tokens') {
    // A code execution container and the files in it.
    return given(json.container) ? 'container' : messageFiles(json.messages);
  }
  if (GEMINI_NATIVE.test(operation)) return geminiState(json);
  if (operation === 'images/edits') return storedFile(json.images, 'images') ?? storedFile(json.mask, 'mask');
  return undefined;
}

/**
 * A JSON body as it may go to this provider: refused (400 `provider_state_not_allowed`) when it names
 * state kept at the provider, and with `store: false` where the provider would keep the turn
 * (Responses stores by default; Chat Completions on `store: true`). As it is when the operator set
 * `providerState` for the provider.
 */
export function withoutProviderState(providerId: string, provider: Provider, operation: string, json: Json | undefined): Json | undefined {
  if (!json || provider.providerState === true) return json;
  const field = stateField(operation, json);
  if (field) {
    throw new GatewayError(
      400,
      `field ${field} names state kept at provider "${providerId}" under keys every user shares; the gateway forwards it only for a provider whose vault entry sets "providerState": true`,
      'provider_state_not_allowed',
    );
  }
  if ((operation === 'responses' && json.store !== false) || (CHAT_COMPLETIONS.test(operation) && json.store === true)) return { ...json, store: false };
  return json;
}
