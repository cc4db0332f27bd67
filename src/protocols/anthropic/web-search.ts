import { omitUndefined, type UrlCitation, type WebSearchCall } from '../pivot/chat';
import type { Block } from './schema';

// Anthropic's web search server tool both ways: the pivot's `web_search_options` as the tool, an
// Anthropic client's tool as `web_search_options`, and the answer's `server_tool_use` /
// `web_search_tool_result` blocks and text citations as the pivot's searches and url citations.

/** The server tool's versions (`web_search_20250305`, …). */
export const isWebSearchTool = (type: string | undefined) => /^web_search_\d{8}$/.test(type ?? '');

const WEB_SEARCH_TOOL = 'web_search_20250305';

interface Location {
  city?: unknown;
  region?: unknown;
  country?: unknown;
  timezone?: unknown;
}

const locationFields = (location: Location) =>
  omitUndefined({ city: location.city, region: location.region, country: location.country, timezone: location.timezone });

/** The pivot's `web_search_options` as Anthropic's web search tool. */
export function webSearchTool(options: Record<string, unknown>): Record<string, unknown> {
  const location = (options.user_location as { approximate?: Location } | undefined)?.approximate;
  return omitUndefined({
    type: WEB_SEARCH_TOOL,
    name: 'web_search',
    user_location: location ? { type: 'approximate', ...locationFields(location) } : undefined,
  });
}

/** An Anthropic client's web search tool as `web_search_options`. */
export function webSearchOptionsOf(tool: { user_location?: unknown }): Record<string, unknown> {
  const location = tool.user_location as Location | undefined;
  return location ? { user_location: { type: 'approximate', approximate: locationFields(location) } } : {};
}

interface SearchResult {
  type?: string;
  url?: string;
  title?: string;
}

/** The sources of a `web_search_tool_result` block (none when the search failed). */
const sourcesOf = (block: Block) =>
  (Array.isArray(block.content) ? (block.content as SearchResult[]) : [])
    .filter((result) => result.type === 'web_search_result' && typeof result.url === 'string')
    .map((result) => omitUndefined({ url: result.url!, title: result.title }));

/** The query of a `server_tool_use` block's input. */
export const queryOf = (input: unknown) => {
  const query = (input as { query?: unknown } | undefined)?.query;
  return typeof query === 'string' ? query : '';
};

/** A finished search: the result block with the query of the call it answers. */
export const searchOf = (result: Block, query: string): WebSearchCall => ({ id: result.tool_use_id ?? '', queries: [query], sources: sourcesOf(result) });

/** The web searches of an answer's blocks. */
export function searchesOf(blocks: Block[]): WebSearchCall[] {
  const queries = new Map(blocks.filter((block) => block.type === 'server_tool_use').map((block) => [block.id, queryOf(block.input)]));
  return blocks.filter((block) => block.type === 'web_search_tool_result').map((block) => searchOf(block, queries.get(block.tool_use_id) ?? ''));
}

interface Citation {
  type?: string;
  url?: string;
  title?: string | null;
}

/** A text block's web citations as url citations of the text from `start` to `end`. */
export function urlCitations(citations: unknown, start: number, end: number): UrlCitation[] {
  return (Array.isArray(citations) ? (citations as Citation[]) : [])
    .filter((citation) => citation.type === 'web_search_result_location' && typeof citation.url === 'string')
    .map((citation) => ({
      type: 'url_citation' as const,
      url_citation: omitUndefined({ url: citation.url!, title: citation.title ?? undefined, start_index: start, end_index: end }),
    }));
}

/** The url citations of an answer's text blocks, placed in their text joined as one. */
export function citationsOf(blocks: Block[]): UrlCitation[] {
  let at = 0;
  return blocks.flatMap((block) => {
    if (block.type !== 'text') return [];
    const start = at;
    at += (block.text ?? '').length;
    return urlCitations(block.citations, start, at);
  });
}
