// Regenerates docs/errors.md from packages/core/src/codes.ts (via the build).
// `packages/core/src/docs.test.ts` fails when the two drift apart.
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../packages/core/dist/index.js';

const rows = Object.entries(ERROR_CODES).map(([code, s]) => `| \`${code}\` | ${s.retryable ? 'yes' : 'no'} | ${s.summary} | ${s.hint} |`);
const text = `# Error codes

Every error Breakwater throws is a \`BreakwaterError\` with a stable \`code\`.
Codes are never renamed or reused; match on them, not on messages.

\`\`\`ts
import { BreakwaterError } from '@breakwater/core';
try { … } catch (err) {
  if (err instanceof BreakwaterError && err.code === 'BW_ERR_CONNECT_TIMEOUT') { … }
}
\`\`\`

- \`retryable\`: whether another attempt may succeed (the default per code is below;
  a thrower may override it). Whether a retry is *safe* depends on idempotency:
  \`details.phase\` is \`connect\` when nothing reached the peer.
- \`hint\`: the likely failure mode, for the engineer on call.
- \`cause\`: the original error (an OS errno, an undici or driver error).
- \`details\`: context such as \`host\`, \`port\`, \`elapsedMs\`, \`errno\`, \`key\`.
- \`instanceof BreakwaterError\` works across duplicate copies of \`@breakwater/core\`
  (a \`Symbol.for\` brand).

OS errors are mapped by \`classify(err, { host, port, phase })\`: \`ETIMEDOUT\` →
\`BW_ERR_PEER_TIMEOUT\` (\`BW_ERR_CONNECT_TIMEOUT\` while connecting), \`ECONNRESET\`/\`EPIPE\`
→ \`BW_ERR_PEER_RESET\`, \`ECONNREFUSED\` → \`BW_ERR_CONNECT_REFUSED\`, \`EADDRNOTAVAIL\` →
\`BW_ERR_PORTS_EXHAUSTED\`, \`EHOSTUNREACH\`/\`ENETUNREACH\` → \`BW_ERR_PEER_UNREACHABLE\`,
\`ENOTFOUND\`/\`EAI_AGAIN\` → \`BW_ERR_DNS\`, TLS and certificate errors → \`BW_ERR_TLS\`,
undici's \`UND_ERR_*\` to their equivalents.

| code | retryable by default | meaning | hint |
|---|---|---|---|
${rows.join('\n')}
`;
writeFileSync(new URL('../docs/errors.md', import.meta.url), text);
console.log(`docs/errors.md: ${rows.length} codes`);
