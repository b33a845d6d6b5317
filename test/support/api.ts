/** Serving a built API on loopback for a test, and calling it as a token holder. */
import type { FastifyInstance } from 'fastify';

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies are explored by the assertions */
export type Json = Record<string, any>;

/** listenOnLoopback starts the API on a free 127.0.0.1 port and answers its base URL. */
export async function listenOnLoopback(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** callApi sends one request with a bearer token (and a JSON body, if any) and answers the status and the parsed body. */
export async function callApi(base: string, method: string, url: string, token: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}
