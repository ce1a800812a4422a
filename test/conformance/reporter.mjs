/** A node:test reporter printing one JSON line per finished test: { file, name, status, error }. */
export default async function* reporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    // Suites are reported too; only leaf tests count.
    if (d.details?.type === 'suite') continue;
    const status = event.type === 'test:pass' ? (d.skip !== undefined ? 'skip' : d.todo !== undefined ? 'todo' : 'pass') : 'fail';
    const error = status === 'fail' ? String(d.details?.error?.cause?.message ?? d.details?.error?.message ?? '').slice(0, 300) : undefined;
    yield `${JSON.stringify({ file: d.file, name: d.name, nesting: d.nesting, status, error, ms: Math.round(d.details?.duration_ms ?? 0) })}\n`;
  }
}
