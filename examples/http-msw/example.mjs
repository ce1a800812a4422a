// A user's test suite mocking @breakwater/http with msw 3.
//
// msw's `setupServer` patches `http.request` and the global `fetch` only; @breakwater/http is built on
// undici 8, which opens its own sockets, so `setupServer` never sees its requests. msw 3's experimental
// socket-level network does: `HttpRequestInterceptor` (from @mswjs/interceptors) answers at the socket,
// below undici, so Breakwater's deadline, retry and circuit layers and hardened sockets still run (msw's
// sockets have no fd, `_handle.fd === -1`: socket options that need one are skipped, never fatal).
import { createClient } from '@breakwater/http';
import { HttpRequestInterceptor } from '@mswjs/interceptors/http';
import { HttpResponse, http } from 'msw';
import { defineNetwork, InterceptorSource } from 'msw/experimental';

const network = defineNetwork({
  sources: [new InterceptorSource({ interceptors: [new HttpRequestInterceptor()] })],
  handlers: [http.get('https://api.example.test/users/1', () => HttpResponse.json({ id: 1, name: 'Ada Lovelace' }))],
  // msw 3 renamed `onUnhandledRequest`; the old name is silently ignored. Anything unmocked is a test bug.
  onUnhandledFrame: 'error',
  context: { quiet: true },
});
await network.enable();

// The default stack, no layer removed: the dns and balance layers resolve names in the connect step, and
// msw answers at the socket before any lookup, so the handler sees the real URL (the name, not an address)
// and `.test` (which never resolves: nothing can reach a real network) needs no DNS.
const client = createClient({ deadlineMs: 2_000 });
try {
  const { statusCode, body } = await client.request('https://api.example.test/users/1');
  console.log(`GET https://api.example.test/users/1 -> ${statusCode} ${JSON.stringify(await body.json())}`);
} finally {
  await client.close();
  await network.disable();
}
