/** A real HTTP server on 127.0.0.1 for tests of plugins that call one: each request's body is read, then handed to the test's handler. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** LocalServer is a running test server: its base URL, the requests it got, and how to stop it. */
export interface LocalServer {
  url: string;
  requests: { method: string; path: string; headers: http.IncomingHttpHeaders; body: Buffer }[];
  close(): Promise<void>;
}

/** startLocalServer listens on a free loopback port; `handle` answers each request (status and JSON body) or returns null to never answer. */
export async function startLocalServer(
  handle: (req: { path: string; headers: http.IncomingHttpHeaders; body: Buffer }, index: number) => { status: number; body: unknown; headers?: Record<string, string> } | null,
): Promise<LocalServer> {
  const requests: LocalServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(got);
      const answer = handle(got, requests.length - 1);
      if (answer) res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
