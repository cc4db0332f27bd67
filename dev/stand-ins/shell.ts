import type { ReplyInput, ToolCall } from './conversation';

// A coding agent's shell tool: a prompt saying "Run `<command>`" gets one call of it, then the answer.

/** The agents' shell tools and how each takes a command: Codex's `exec_command` and `shell`. */
const SHELL_TOOLS: Record<string, (command: string) => Record<string, unknown>> = {
  exec_command: (command) => ({ cmd: command }),
  shell: (command) => ({ command: ['bash', '-lc', command] }),
};

export function shellCall(input: ReplyInput): ToolCall | undefined {
  const command = /\bRun `([^`]+)`/.exec(input.lastUserText)?.[1];
  const name = input.toolNames.find((n) => Object.hasOwn(SHELL_TOOLS, n));
  if (command === undefined || name === undefined || !input.endsWithUserText) return undefined;
  const args = SHELL_TOOLS[name]!(command);
  return { name, arguments: args, argumentsJson: JSON.stringify(args) };
}
