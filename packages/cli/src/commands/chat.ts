/**
 * `lmflow chat`: an interactive chat in the terminal. Answers stream as they are generated,
 * through the model's chat template (or --conversation_template), and the conversation is kept
 * across turns.
 *
 * Input: a line is a message; a line ending in "\" continues on the next line (the message then
 * holds a newline there). /reset, /system <text>, /help and /exit are commands. Ctrl-C stops the
 * answer being generated and keeps the chat; at the prompt, a second Ctrl-C in a row (or Ctrl-D)
 * quits. Works the same when stdin is a pipe (the signal then arrives as SIGINT).
 */
import readline from 'node:readline';
import { defineOptions } from '@lmflow/core';
import { CONVERSATION_TEMPLATE_NAMES } from '@lmflow/data';
import { createChatSession, generationFlags, generationOptionsFromFlags, type ChatSession, type GenerationOptions, type Generator } from '@lmflow/inference';
import { defineCommand, type CommandContext } from '../command.js';
import { loraAdapterOptions } from '@lmflow/plugin-lora';
import { generatorFromFlags, modelFlags } from './generate.js';

const chatFlags = defineOptions('Chat', {
  conversation_template: {
    type: 'enum',
    values: CONVERSATION_TEMPLATE_NAMES,
    description: "An LMFlow preset, tokenizer (the model's chat_template) or hf_auto. Default: the model's chat_template when it has one, else empty.",
  },
  system: { type: 'string', description: 'System prompt of the conversation (/system changes it). Default: none.' },
});

const HELP = [
  'a line is a message; end a line with \\ to continue on the next one',
  '/reset            forget the conversation (the system prompt stays)',
  '/system <text>    set the system prompt and start over; /system alone removes it',
  '/exit             quit (also Ctrl-D, or Ctrl-C twice at the prompt)',
  'Ctrl-C            stop the answer being written',
].join('\n');

const PROMPT = '>>> ';
const CONTINUATION = '... ';

export const chatCommand = defineCommand({
  name: 'chat',
  summary: 'Chat with a model in the terminal, answers streamed.',
  description:
    'Keeps the conversation and applies the model\'s chat template (or --conversation_template) at every turn. A line ending in \\ continues the message on the next line. /reset, /system <text>, /help and /exit are commands; Ctrl-C stops an answer, Ctrl-C twice or Ctrl-D quits.',
  examples: ['lmflow chat --model_name_or_path Qwen/Qwen3-0.6B --temperature 0.7', 'lmflow chat --model_name_or_path models/stories260K --conversation_template empty --max_new_tokens 64'],
  options: [modelFlags, loraAdapterOptions, chatFlags, generationFlags],
  async run(config, context) {
    const generator = await generatorFromFlags(config, context.io.cwd);
    try {
      const session = createChatSession(generator, {
        ...(config.system !== undefined && { system: config.system }),
        ...(config.conversation_template !== undefined && { conversationTemplate: config.conversation_template }),
      });
      // Template problems (a system prompt the template cannot hold) show before the first turn.
      generator.applyChatTemplate([...session.messages, { role: 'user', content: 'x' }], {
        ...(config.conversation_template !== undefined && { conversationTemplate: config.conversation_template }),
      });
      context.log(`chatting with ${config.model_name_or_path}; /help lists the commands, Ctrl-D quits`);
      await converse(session, generator, generationOptionsFromFlags(config), context);
    } finally {
      generator.model.dispose();
    }
  },
});

async function converse(session: ChatSession, generator: Generator, options: GenerationOptions, { io, log }: CommandContext): Promise<void> {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const rl = readline.createInterface({ input: process.stdin, ...(terminal ? { output: process.stdout, terminal: true } : { terminal: false }) });
  const prompt = (text: string) => {
    if (terminal) {
      rl.setPrompt(text);
      rl.prompt();
    } else {
      io.stdout.write(text);
    }
  };

  let answering: AbortController | null = null;
  let pending = '';
  let armed = false;
  const interrupt = () => {
    if (answering) {
      answering.abort();
      return;
    }
    if (armed) {
      rl.close();
      return;
    }
    armed = true;
    pending = '';
    // Ctrl-C at the prompt drops what was typed, as shells do.
    if (terminal) rl.write(null, { ctrl: true, name: 'u' });
    io.stdout.write('\n');
    log('(Ctrl-C again or Ctrl-D to quit)');
    prompt(PROMPT);
  };
  rl.on('SIGINT', interrupt);
  process.on('SIGINT', interrupt);

  try {
    prompt(PROMPT);
    for await (const line of rl) {
      armed = false;
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1)}\n`;
        prompt(CONTINUATION);
        continue;
      }
      const message = pending + line;
      pending = '';
      if (message.trim() === '') {
        prompt(PROMPT);
        continue;
      }
      if (message.startsWith('/')) {
        if (runCommand(message.trim(), session, generator, io.stdout, log) === 'exit') break;
        prompt(PROMPT);
        continue;
      }
      answering = new AbortController();
      try {
        const answer = session.send(message, { ...options, signal: answering.signal });
        for await (const delta of answer) io.stdout.write(delta.text);
        const result = await answer.result;
        io.stdout.write('\n');
        if (result.finishReason === 'abort') log('(answer stopped)');
        if (result.finishReason === 'length') log('(answer cut at the token limit: --max_new_tokens or the model\'s context)');
      } catch (error) {
        io.stdout.write('\n');
        log(`error: ${(error as Error).message}`);
      } finally {
        answering = null;
      }
      prompt(PROMPT);
    }
  } finally {
    process.off('SIGINT', interrupt);
    rl.close();
    io.stdout.write('\n');
  }
}

function runCommand(line: string, session: ChatSession, generator: Generator, stdout: CommandContext['io']['stdout'], log: (line: string) => void): 'exit' | void {
  const command = line.split(/\s+/)[0]!;
  const argument = line.slice(command.length).trim();
  switch (command) {
    case '/exit':
    case '/quit':
      return 'exit';
    case '/reset':
      session.reset();
      log('(conversation cleared)');
      return;
    case '/system': {
      const system = argument === '' ? null : argument;
      try {
        // The template must be able to hold it (some presets have no system role).
        generator.applyChatTemplate([...(system !== null ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: 'x' }], { conversationTemplate: session.conversationTemplate });
      } catch (error) {
        log(`error: ${(error as Error).message}`);
        return;
      }
      session.setSystem(system);
      session.reset();
      log(system === null ? '(system prompt removed; conversation cleared)' : '(system prompt set; conversation cleared)');
      return;
    }
    case '/help':
      stdout.write(`${HELP}\n`);
      return;
    default:
      log(`unknown command ${command}; /help lists the commands`);
  }
}
