/**
 * The HTTP server: OpenAI's routes, /health and the web chat page on node:http (a framework
 * would add a dependency for six routes). Its life: listen, serve, and on close stop
 * accepting, let running requests finish, then release the port.
 */
import { setMaxListeners } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Engine } from './engine/engine.js';
import { handleGeneration, type GenerationRouteContext } from './api/generation-route.js';
import { ApiError } from './http/api-error.js';
import { createAuthCheck } from './http/auth.js';
import { sendJson } from './http/send.js';
import { loadStaticFiles } from './http/static-files.js';
import { createAdmission } from './scheduler/admission.js';

export interface ServerOptions {
  /** The model to serve (workerEngine or generatorEngine). The server does not close it. */
  engine: Engine;
  /** @default '127.0.0.1' (this machine only; '0.0.0.0' to listen on every interface) */
  host?: string;
  /** 0 picks a free port. @default 8000 */
  port?: number;
  /** When set, /v1/ requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Generations running at the same time. @default 4 */
  maxConcurrency?: number;
  /** Requests waiting for a slot before new ones get 429. @default 64 */
  maxQueue?: number;
  /** Largest request body accepted; larger ones get 413. @default 1 MiB */
  maxBodyBytes?: number;
  /** Where one line per request goes. @default nowhere */
  log?: (line: string) => void;
}

export interface LmflowServer {
  readonly httpServer: Server;
  /** `http://host:port` once listening. */
  readonly url: string;
  listen(): Promise<{ host: string; port: number; url: string }>;
  /**
   * Stops accepting requests (new ones on open connections get 503), waits for running and
   * queued requests to finish, then closes every connection. With `{ abort: true }`, running
   * generations are cancelled instead of awaited.
   */
  close(options?: { abort?: boolean }): Promise<void>;
  /** Requests generating / waiting now. */
  readonly load: { running: number; waiting: number };
}

export const DEFAULT_PORT = 8000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_MAX_CONCURRENCY = 4;
export const DEFAULT_MAX_QUEUE = 64;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export function createServer(options: ServerOptions): LmflowServer {
  const { engine } = options;
  const host = options.host ?? DEFAULT_HOST;
  const admission = createAdmission({ maxConcurrency: options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY, maxQueue: options.maxQueue ?? DEFAULT_MAX_QUEUE });
  const checkAuth = createAuthCheck(options.apiKey);
  const files = loadStaticFiles();
  const shutdown = new AbortController();
  // Every running request listens for shutdown: as many listeners as requests, not a leak.
  setMaxListeners(0, shutdown.signal);
  const log = options.log;
  const created = Math.floor(Date.now() / 1000);
  let draining = false;
  let closing: Promise<void> | null = null;
  let url = '';

  const generation: GenerationRouteContext = {
    engine,
    admission,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    shutdownSignal: shutdown.signal,
    onStreamError: log && ((error) => log(`error: a stream failed: ${(error as Error)?.stack ?? String(error)}`)),
    onFinished: log && ((s) => log(`${s.kind === 'chat' ? 'chat' : 'completion'}: ${s.promptTokens} prompt + ${s.completionTokens} generated tokens, ${s.finishReason}, ${s.ms} ms`)),
  };
  const modelObject = () => ({ id: engine.modelId, object: 'model', created, owned_by: 'lmflow', max_model_len: engine.contextLength });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    if (draining) res.setHeader('Connection', 'close');

    if (path === '/health') {
      allow(method, ['GET', 'HEAD'], path);
      const status = draining ? 'draining' : engine.healthy ? 'ok' : 'engine_failed';
      sendJson(res, status === 'ok' ? 200 : 503, { status, model: engine.modelId, running: admission.running, waiting: admission.waiting });
      return;
    }
    if (path.startsWith('/v1/')) {
      checkAuth(req);
      if (path === '/v1/models') {
        allow(method, ['GET'], path);
        sendJson(res, 200, { object: 'list', data: [modelObject()] });
        return;
      }
      if (path.startsWith('/v1/models/')) {
        allow(method, ['GET'], path);
        const id = decodeURIComponent(path.slice('/v1/models/'.length));
        if (id !== engine.modelId) throw new ApiError(404, 'invalid_request_error', `The model "${id}" does not exist; this server serves "${engine.modelId}"`, { param: 'model', code: 'model_not_found' });
        sendJson(res, 200, modelObject());
        return;
      }
      const kind = path === '/v1/chat/completions' ? 'chat' : path === '/v1/completions' ? 'text' : null;
      if (kind) {
        allow(method, ['POST'], path);
        if (draining) throw new ApiError(503, 'service_unavailable', 'the server is shutting down and accepts no new requests', { code: 'shutting_down' });
        if (!engine.healthy) throw new ApiError(503, 'service_unavailable', 'the model engine stopped working; restart lmflow serve (see its log)', { code: 'engine_failed' });
        await handleGeneration(kind, generation, req, res);
        return;
      }
      throw new ApiError(404, 'not_found_error', `no route ${method} ${path}; this server has GET /v1/models, POST /v1/completions and POST /v1/chat/completions`, { code: 'unknown_url' });
    }
    if ((method === 'GET' || method === 'HEAD') && files.serve(path, res, method === 'HEAD')) return;
    throw new ApiError(404, 'not_found_error', `no route ${method} ${path}; the chat page is at /, the API under /v1/`, { code: 'unknown_url' });
  }

  // Requests in progress per connection. On close, a connection with none is ended at once:
  // Node's closeIdleConnections() skips connections that never carried a request, which
  // clients open ahead of need (browsers preconnect; fetch reconnects after an abort).
  const inFlight = new Map<Socket, number>();
  const endIfIdle = (socket: Socket) => {
    if (draining && (inFlight.get(socket) ?? 0) === 0 && !socket.destroyed) socket.end();
  };

  const httpServer = createHttpServer((req, res) => {
    const { socket } = req;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (inFlight.has(socket)) inFlight.set(socket, inFlight.get(socket)! - 1);
      endIfIdle(socket);
    });
    route(req, res).catch((error: unknown) => {
      const apiError =
        error instanceof ApiError ? error : new ApiError(500, 'server_error', `internal error: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      if (apiError.status >= 500 && !(error instanceof ApiError)) log?.(`error: ${req.method} ${req.url}: ${(error as Error)?.stack ?? String(error)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers: Record<string, string> = { ...apiError.headers };
      // A refused upload may still be arriving: answer, then close rather than read it all.
      if (apiError.status === 413) headers.Connection = 'close';
      sendJson(res, apiError.status, apiError.toJSON(), headers);
      if (apiError.status === 413) req.resume();
    });
  });
  httpServer.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  // Streams can run for minutes; the socket idles between tokens only briefly, but the
  // default 5 s keep-alive and request timeouts must not cut a queued request.
  httpServer.requestTimeout = 0;

  return {
    httpServer,
    get url() {
      return url;
    },
    get load() {
      return { running: admission.running, waiting: admission.waiting };
    },
    listen() {
      return new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          httpServer.off('listening', onListening);
          const port = options.port ?? DEFAULT_PORT;
          if (error.code === 'EADDRINUSE') reject(new Error(`cannot listen on ${host}:${port}: the port is in use; choose another with --port (0 picks a free one)`, { cause: error }));
          else if (error.code === 'EADDRNOTAVAIL') reject(new Error(`cannot listen on ${host}:${port}: ${host} is not an address of this machine (--host)`, { cause: error }));
          else if (error.code === 'EACCES') reject(new Error(`cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges; --port)`, { cause: error }));
          else reject(error);
        };
        const onListening = () => {
          httpServer.off('error', onError);
          const address = httpServer.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          url = `http://${shownHost}:${address.port}`;
          resolve({ host: address.address, port: address.port, url });
        };
        httpServer.once('error', onError);
        httpServer.once('listening', onListening);
        httpServer.listen(options.port ?? DEFAULT_PORT, host);
      });
    },
    close(closeOptions = {}) {
      if (closeOptions.abort) shutdown.abort();
      if (closing) return closing;
      draining = true;
      closing = (async () => {
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeIdleConnections();
        for (const socket of inFlight.keys()) endIfIdle(socket);
        await admission.idle();
        // Responses are written; connections kept alive for more requests can go.
        httpServer.closeIdleConnections();
        for (const socket of inFlight.keys()) endIfIdle(socket);
        const grace = setTimeout(() => httpServer.closeAllConnections(), 2000);
        await closed;
        clearTimeout(grace);
      })();
      return closing;
    },
  };
}

function allow(method: string, methods: readonly string[], path: string): void {
  if (!methods.includes(method)) {
    throw new ApiError(405, 'invalid_request_error', `${method} is not allowed on ${path}; use ${methods.join(' or ')}`, { code: 'method_not_allowed', headers: { Allow: methods.join(', ') } });
  }
}
