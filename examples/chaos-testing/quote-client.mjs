// The code under test: a small client a user wrote for a line-based quote service
// ("AAPL\n" -> '{"symbol":"AAPL","price":189.5}\n'). It uses @breakwater/socket so that a silent
// or reset peer becomes a typed error within `timeoutMs` instead of a hang.
import { BreakwaterError } from '@breakwater/core';
import { connect } from '@breakwater/socket';

/** Asks the quote service for one symbol; rejects with a BreakwaterError (`code`, `hint`, `retryable`). */
export async function getQuote(symbol, { host, port, timeoutMs = 1_000 }) {
  // stallTimeoutMs: no byte of the owed response for this long -> BW_ERR_STALLED (FM-06, a blackhole).
  const socket = await connect({ host, port, connectTimeoutMs: timeoutMs, stallTimeoutMs: timeoutMs });
  try {
    return await new Promise((resolve, reject) => {
      let buffered = '';
      socket.on('data', (chunk) => {
        buffered += chunk;
        const end = buffered.indexOf('\n');
        if (end !== -1) resolve(JSON.parse(buffered.slice(0, end)));
      });
      socket.once('error', reject); // already classified: BW_ERR_STALLED, BW_ERR_PEER_RESET…
      socket.once('close', () => reject(new BreakwaterError('BW_ERR_PROTOCOL', `the quote service closed the connection before answering ${symbol}`)));
      socket.write(`${symbol}\n`);
    });
  } finally {
    socket.destroy();
  }
}
