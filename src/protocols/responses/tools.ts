import { GatewayError } from '../../errors';
import { type FunctionTool as PivotTool, omitUndefined } from '../pivot/chat';
import type { NamespacedTool, ResponsesRequest, Tool } from './schema';

// The Responses tools as pivot function tools, and a pivot function's name back as the tool the
// client named. A `namespace` groups functions and custom tools: each becomes one function named
// `<namespace>__<name>`. A `custom` (freeform) tool becomes a function taking one string, `input`.
// Every name fits what every provider takes ([a-zA-Z0-9_-], at most 64, starting with a letter or
// `_` for Gemini): one that does not is made to fit and suffixed with a hash of itself, so it is the
// same on every turn and names nothing else.

/** A tool as the client named it: what a call of its pivot function is answered as. */
export interface ClientTool {
  kind: 'function' | 'custom';
  name: string;
  namespace?: string;
}

const FITS = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/;

/** The hosted web search tools: `web_search`, `web_search_preview` and their dated versions. */
export const isWebSearchTool = (type: string) => /^web_search(?:_preview)?(?:_\d{4}_\d{2}_\d{2})?$/.test(type);

/** FNV-1a (32 bits) in base 36: a short, stable tag for a name that had to be changed. */
function tag(text: string): string {
  let hash = 0x811c9dc5;
  for (const char of text) hash = Math.imul(hash ^ char.codePointAt(0)!, 0x01000193) >>> 0;
  return hash.toString(36);
}

/** The function name providers see for a client's tool. */
export function pivotToolName(tool: { name: string; namespace?: string }): string {
  const wanted = tool.namespace === undefined ? tool.name : `${tool.namespace}__${tool.name}`;
  if (FITS.test(wanted)) return wanted;
  const safe = wanted.replace(/[^a-zA-Z0-9_-]/g, '_').replace(/^(?=[^a-zA-Z_])/, '_');
  return `${safe.slice(0, 56)}_${tag(wanted)}`;
}

const unsupported = (what: string) =>
  new GatewayError(400, `${what} cannot be translated from the Responses API for this provider`, 'unsupported_by_translation');

const describe = (tool: ClientTool) => (tool.namespace === undefined ? tool.name : `${tool.namespace}.${tool.name}`);

/** A custom tool's one string argument. */
export const CUSTOM_INPUT = 'input';

function customParameters(tool: NamespacedTool): Record<string, unknown> {
  const format = tool.format;
  const description =
    format?.type === 'grammar' && format.definition
      ? `The tool's input, as text in this ${format.syntax ?? ''} grammar:\n${format.definition}`
      : "The tool's input, as plain text.";
  return { type: 'object', properties: { [CUSTOM_INPUT]: { type: 'string', description } }, required: [CUSTOM_INPUT], additionalProperties: false };
}

function pivotTool(tool: NamespacedTool, name: string, namespace: Tool | undefined): PivotTool {
  const description = [namespace?.description, tool.description].filter(Boolean).join('\n\n') || undefined;
  if (tool.type === 'custom') return { type: 'function', function: omitUndefined({ name, description, parameters: customParameters(tool) }) };
  return {
    type: 'function',
    function: omitUndefined({ name, description, parameters: tool.parameters ?? undefined, strict: tool.strict ?? undefined }),
  };
}

/** A Responses web search tool's options as Chat Completions' `web_search_options`. */
function webSearchOptions(tool: Tool): Record<string, unknown> {
  const location = tool.user_location;
  return omitUndefined({
    search_context_size: tool.search_context_size ?? undefined,
    user_location: location
      ? {
          type: 'approximate',
          approximate: omitUndefined({
            city: location.city ?? undefined,
            country: location.country ?? undefined,
            region: location.region ?? undefined,
            timezone: location.timezone ?? undefined,
          }),
        }
      : undefined,
  });
}

/**
 * A request's tools for the pivot: its functions and custom tools (namespaced ones included) as pivot
 * functions, its web search tool as `web_search_options`, and the way back from a function's name.
 */
export class RequestTools {
  readonly functions: PivotTool[] = [];
  webSearch: Record<string, unknown> | undefined;
  private readonly byPivotName = new Map<string, ClientTool>();

  constructor(tools: ResponsesRequest['tools']) {
    for (const tool of tools ?? []) {
      if (tool.type === 'namespace') for (const inner of tool.tools ?? []) this.add(inner, tool);
      else if (tool.type === 'function' || tool.type === 'custom') this.add(tool, undefined);
      else if (isWebSearchTool(tool.type)) this.webSearch = webSearchOptions(tool);
      else throw unsupported(`the "${tool.type}" tool`);
    }
  }

  private add(tool: NamespacedTool, namespace: Tool | undefined) {
    if ((tool.type !== 'function' && tool.type !== 'custom') || !tool.name) {
      throw unsupported(`the "${tool.type}" tool${namespace ? ` in namespace "${namespace.name}"` : ''}`);
    }
    const client: ClientTool = { kind: tool.type, name: tool.name, ...(namespace?.name === undefined ? {} : { namespace: namespace.name }) };
    const name = pivotToolName(client);
    const taken = this.byPivotName.get(name);
    if (taken) {
      throw new GatewayError(400, `tools "${describe(taken)}" and "${describe(client)}" have the same name for the provider`, 'invalid_tools');
    }
    this.byPivotName.set(name, client);
    this.functions.push(pivotTool(tool, name, namespace));
  }

  /** The client tool a pivot function stands for: a name the request did not give is a plain function. */
  clientTool(pivotName: string): ClientTool {
    return this.byPivotName.get(pivotName) ?? { kind: 'function', name: pivotName };
  }
}
