/**
 * Chat sessions on stories260K: each turn is what Generator.chat gives for the whole history,
 * answers (also stopped ones) join the history, and reset / setSystem change the next prompt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatSession, loadGenerator, type ChatMessage, type Generator } from '../index.js';
import { stories260K } from '../test-support/paths.js';

let generator: Generator;
beforeAll(async () => {
  generator = await loadGenerator(stories260K, { device: 'cpu' });
});
afterAll(() => generator.model.dispose());

async function answer(messages: ChatMessage[], conversationTemplate?: string): Promise<string> {
  const stream = generator.chat(messages, { maxNewTokens: 16, ...(conversationTemplate ? { conversationTemplate } : {}) });
  return (await stream.result).text;
}

describe('createChatSession', () => {
  it('keeps the turns: each answer is the chat answer to the whole history', async () => {
    const session = createChatSession(generator);
    const first = session.send('Tom had a dog.', { maxNewTokens: 16 });
    const pieces: string[] = [];
    for await (const delta of first) pieces.push(delta.text);
    const one = await first.result;
    expect(pieces.join('')).toBe(one.text);
    expect(one.text).toBe(await answer([{ role: 'user', content: 'Tom had a dog.' }]));
    expect(one.text.length).toBeGreaterThan(0);

    const two = await session.send('The dog was big.', { maxNewTokens: 16 }).result;
    const history: ChatMessage[] = [
      { role: 'user', content: 'Tom had a dog.' },
      { role: 'assistant', content: one.text },
      { role: 'user', content: 'The dog was big.' },
    ];
    expect(two.text).toBe(await answer(history));
    expect(session.messages).toEqual([...history, { role: 'assistant', content: two.text }]);
    // The prompt of the second turn holds the first exchange, as the empty template encodes it.
    expect(generator.applyChatTemplate(history).length).toBeGreaterThan(generator.applyChatTemplate(history.slice(2)).length + 10);

    session.reset();
    expect(session.messages).toEqual([]);
    expect((await session.send('Tom had a dog.', { maxNewTokens: 16 }).result).text).toBe(one.text);
  });

  it('a system prompt goes into the template (llama2 here); setSystem(null) removes it', async () => {
    const session = createChatSession(generator, { system: 'You tell stories.', conversationTemplate: 'llama2' });
    const withSystem = await session.send('Tell me about a cat.', { maxNewTokens: 16 }).result;
    expect(withSystem.text).toBe(
      await answer([
        { role: 'system', content: 'You tell stories.' },
        { role: 'user', content: 'Tell me about a cat.' },
      ], 'llama2'),
    );
    expect(session.messages[0]).toEqual({ role: 'system', content: 'You tell stories.' });
    session.reset();
    session.setSystem(null);
    expect(session.system).toBeNull();
    const without = await session.send('Tell me about a cat.', { maxNewTokens: 16 }).result;
    expect(without.text).toBe(await answer([{ role: 'user', content: 'Tell me about a cat.' }], 'llama2'));
  });

  it('a stopped answer stays in the history as far as it got; one turn at a time', async () => {
    const session = createChatSession(generator);
    const stream = session.send('Once upon a time', { maxNewTokens: 200 });
    expect(() => session.send('again')).toThrow('ChatSession.send: the previous answer is still being generated');
    for await (const delta of stream) if (delta.tokenIds.length > 0) break;
    const stopped = await stream.result;
    expect(stopped.finishReason).toBe('abort');
    expect(session.messages).toEqual([
      { role: 'user', content: 'Once upon a time' },
      { role: 'assistant', content: stopped.text },
    ]);
    // The session accepts the next turn.
    expect((await session.send('Then?', { maxNewTokens: 4 }).result).tokenIds).toHaveLength(4);
  });

  it('a template error leaves the history as it was', async () => {
    const session = createChatSession(generator, { system: 'Be kind.' }); // the default (empty) template has no system role
    expect(() => session.send('Hi')).toThrow(/conversation template "empty" has no system role/);
    expect(session.messages).toEqual([{ role: 'system', content: 'Be kind.' }]);
  });
});
