import { omitUndefined, type UrlCitation, type WebSearchCall } from '../pivot/chat';
import { randomId } from '../pivot/ids';
import type { GroundingMetadata } from './schema';

// Gemini's Google Search grounding for the pivot's `web_search_options`: the `googleSearch` tool
// going, the candidate's `groundingMetadata` (queries, sources, the text each source supports)
// coming back as the pivot's searches and url citations.

/**
 * Whether the model takes Google Search beside function declarations: Gemini 3 and later (with
 * `includeServerSideToolInvocations`); earlier models refuse the two together.
 */
export const searchesBesideFunctions = (model: string) => /^(?:models\/)?gemini-(?:[3-9]|\d{2,})/.test(model);

/** The request's tools and tool config for Google Search, beside its function declarations if any. */
export function googleSearchFields(withFunctions: boolean): { tool: Record<string, unknown>; toolConfig: Record<string, unknown> } {
  return { tool: { googleSearch: {} }, toolConfig: withFunctions ? { includeServerSideToolInvocations: true } : {} };
}

/** A UTF-8 byte offset of `text` (Gemini's segment indices) as a UTF-16 index (OpenAI's). */
function charIndex(text: string, byteOffset: number): number {
  const bytes = new TextEncoder().encode(text);
  return new TextDecoder().decode(bytes.slice(0, Math.min(byteOffset, bytes.length))).length;
}

/** The grounding of an answer whose text is `text`: the searches Gemini ran and the citations of the text. */
export function groundingOf(metadata: GroundingMetadata | undefined, text: string): { searches: WebSearchCall[]; citations: UrlCitation[] } {
  if (!metadata?.webSearchQueries?.length && !metadata?.groundingChunks?.length) return { searches: [], citations: [] };
  const sources = (metadata.groundingChunks ?? []).map((chunk) => chunk.web);
  const searches = [
    {
      id: randomId('ws_'),
      queries: metadata.webSearchQueries ?? [],
      sources: sources.flatMap((web) => (web?.uri ? [omitUndefined({ url: web.uri, title: web.title })] : [])),
    },
  ];
  const citations = (metadata.groundingSupports ?? []).flatMap((support) => {
    const start = charIndex(text, support.segment?.startIndex ?? 0);
    const end = charIndex(text, support.segment?.endIndex ?? 0);
    return (support.groundingChunkIndices ?? []).flatMap((index): UrlCitation[] => {
      const web = sources[index];
      return web?.uri ? [{ type: 'url_citation', url_citation: omitUndefined({ url: web.uri, title: web.title, start_index: start, end_index: end }) }] : [];
    });
  });
  return { searches, citations };
}
