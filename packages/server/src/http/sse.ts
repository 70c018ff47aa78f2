/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, then
 * `data: [DONE]\n\n`. Proxies are asked not to buffer, so each token reaches the client as it
 * is generated.
 */
import type { ServerResponse } from 'node:http';

export interface SseWriter {
  send(data: unknown): void;
  /** Ends the stream with `data: [DONE]`. */
  done(): void;
}

export function startSse(res: ServerResponse): SseWriter {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  const write = (line: string) => {
    if (!res.destroyed && !res.writableEnded) res.write(line);
  };
  return {
    send: (data) => write(`data: ${JSON.stringify(data)}\n\n`),
    done() {
      write('data: [DONE]\n\n');
      if (!res.writableEnded) res.end();
    },
  };
}
