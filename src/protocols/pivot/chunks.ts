import type { ChatChunk, ThinkingBlock, ToolCallDelta, UrlCitation, Usage, WebSearchCall } from './chat';
import { nowSeconds, randomId } from './ids';

/** Builds the chunks of one streamed answer: same id, model and `created` in every chunk. */
export class ChunkWriter {
  id = randomId('chatcmpl-');
  model: string;
  readonly created = nowSeconds();

  constructor(model: string) {
    this.model = model;
  }

  private base(choices: ChatChunk['choices']): ChatChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices };
  }

  delta(delta: {
    role?: string;
    content?: string;
    reasoning_content?: string;
    tool_calls?: ToolCallDelta[];
    thinking_blocks?: ThinkingBlock[];
    annotations?: UrlCitation[];
    web_search_calls?: WebSearchCall[];
  }): ChatChunk {
    return this.base([{ index: 0, delta, finish_reason: null }]);
  }

  finish(reason: string): ChatChunk {
    return this.base([{ index: 0, delta: {}, finish_reason: reason }]);
  }

  /** The usage chunk OpenAI sends last when `stream_options.include_usage` is set. */
  usage(usage: Usage): ChatChunk {
    return { ...this.base([]), usage };
  }
}

export function usageOf(prompt: number, completion: number, cached?: number): Usage {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cached ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
  };
}
