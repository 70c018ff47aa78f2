// The chat page of `lmflow serve`: plain JavaScript, no build step, no third-party code.
// It talks to this server's OpenAI-compatible API (/v1/models, /v1/chat/completions with
// stream: true) and keeps the conversation, settings and API key in sessionStorage, so a
// reload keeps them and closing the tab forgets them.
'use strict';

const $ = (id) => document.getElementById(id);
const els = {
  model: $('model'), messages: $('messages'), form: $('composer'), prompt: $('prompt'), send: $('send'), stop: $('stop'),
  newChat: $('new-chat'), temperature: $('temperature'), temperatureValue: $('temperature-value'), maxTokens: $('max-tokens'),
  system: $('system'), apiKey: $('api-key'), status: $('status'),
};
const STORE = 'lmflow-chat';

/** { role: 'user' | 'assistant', content }[]: what is sent as history with each question. */
let conversation = [];
let modelId = null;
let running = null; // the AbortController of the answer being streamed

function save() {
  sessionStorage.setItem(STORE, JSON.stringify({
    conversation,
    settings: { temperature: els.temperature.value, maxTokens: els.maxTokens.value, system: els.system.value, apiKey: els.apiKey.value },
  }));
}

function restore() {
  let saved;
  try { saved = JSON.parse(sessionStorage.getItem(STORE) || 'null'); } catch { saved = null; }
  if (!saved) return;
  conversation = Array.isArray(saved.conversation) ? saved.conversation : [];
  const s = saved.settings || {};
  if (s.temperature !== undefined) els.temperature.value = s.temperature;
  if (s.maxTokens !== undefined) els.maxTokens.value = s.maxTokens;
  if (s.system !== undefined) els.system.value = s.system;
  if (s.apiKey !== undefined) els.apiKey.value = s.apiKey;
  for (const message of conversation) addMessage(message.role, message.content);
}

function addMessage(role, text) {
  const div = document.createElement('div');
  div.className = `message ${role}`;
  div.dataset.role = role;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  div.append(body);
  els.messages.append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

function setStatus(text) { els.status.textContent = text; }

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = els.apiKey.value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

/** The message of an OpenAI-style error body, or the HTTP status. */
async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return `${response.status}: ${body.error.message}`;
  } catch { /* not JSON */ }
  return `${response.status} ${response.statusText}`;
}

async function loadModel() {
  try {
    const response = await fetch('/v1/models', { headers: headers() });
    if (!response.ok) {
      els.model.textContent = response.status === 401 ? 'set the API key in Settings' : await errorText(response);
      return;
    }
    const list = await response.json();
    modelId = list.data[0].id;
    els.model.textContent = modelId;
    els.model.dataset.contextLength = String(list.data[0].max_model_len ?? '');
  } catch (error) {
    els.model.textContent = `server unreachable (${error.message})`;
  }
}

/** Yields the parsed `data:` payloads of a server-sent-event stream, up to [DONE]. */
async function* events(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        yield JSON.parse(data);
      }
    }
  }
}

function requestBody() {
  const messages = [];
  const system = els.system.value.trim();
  if (system) messages.push({ role: 'system', content: system });
  messages.push(...conversation);
  const body = {
    model: modelId,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: Number(els.temperature.value),
  };
  const maxTokens = els.maxTokens.value.trim();
  if (maxTokens) body.max_tokens = Number(maxTokens);
  return body;
}

async function ask(question) {
  if (!modelId) await loadModel();
  if (!modelId) { setStatus('No model: check the server and the API key.'); return; }
  conversation.push({ role: 'user', content: question });
  addMessage('user', question);
  save();

  const bubble = addMessage('assistant', '');
  const text = bubble.querySelector('.text');
  bubble.classList.add('streaming');
  running = new AbortController();
  els.send.disabled = true;
  els.stop.hidden = false;
  setStatus('Waiting for the model…');
  let answer = '';
  let finish = null;
  let usage = null;
  try {
    const response = await fetch('/v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(requestBody()), signal: running.signal });
    if (!response.ok) throw new Error(await errorText(response));
    setStatus('Answering…');
    for await (const chunk of events(response.body)) {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) continue;
      if (choice.delta && choice.delta.content) {
        answer += choice.delta.content;
        text.textContent = answer;
        bubble.scrollIntoView({ block: 'end' });
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    setStatus('');
  } catch (error) {
    if (error.name === 'AbortError') setStatus('Stopped.');
    else {
      bubble.classList.add('error');
      setStatus(`Error: ${error.message}`);
      if (!answer) text.textContent = error.message;
    }
  } finally {
    bubble.classList.remove('streaming');
    running = null;
    els.send.disabled = false;
    els.stop.hidden = true;
  }
  if (answer) {
    // A stopped answer is kept as far as it went: the model sees what the user saw.
    conversation.push({ role: 'assistant', content: answer });
    const meta = document.createElement('span');
    meta.className = 'meta';
    const parts = [];
    if (usage) parts.push(`${usage.completion_tokens} tokens`);
    if (finish === 'length') parts.push('stopped at max tokens');
    if (!finish) parts.push('stopped');
    meta.textContent = parts.join(' · ');
    if (parts.length) bubble.append(meta);
    bubble.dataset.finishReason = finish || 'stopped';
  } else {
    // Nothing came back: take the question off the history so it is not sent twice.
    conversation.pop();
  }
  save();
}

els.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const question = els.prompt.value.trim();
  if (!question || running) return;
  els.prompt.value = '';
  ask(question);
});
els.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    els.form.requestSubmit();
  }
});
els.stop.addEventListener('click', () => running && running.abort());
els.newChat.addEventListener('click', () => {
  if (running) running.abort();
  conversation = [];
  els.messages.replaceChildren();
  setStatus('');
  save();
  els.prompt.focus();
});
els.temperature.addEventListener('input', () => { els.temperatureValue.textContent = els.temperature.value; save(); });
for (const input of [els.maxTokens, els.system]) input.addEventListener('change', save);
els.apiKey.addEventListener('change', () => { save(); loadModel(); });

restore();
els.temperatureValue.textContent = els.temperature.value;
loadModel();
els.prompt.focus();
