import { resolvePreset } from '@breakwater/presets';

// A sound configuration: the AWS ALB preset for production, with a longer
// attempt (45 s headers) and deadline for a slow but legitimate endpoint. Nothing here weakens a
// defence, so every row still passes: the socket's TCP_USER_TIMEOUT and
// stall watchdog stay at 10 s (FM-02), the HTTP client still resends a
// request that met a load balancer's idle close (FM-07).
//
// A function (or an async one) works too: the scorecard calls it.
export default () => ({
  preset: resolvePreset({ infra: 'aws-alb', env: 'production', overrides: { http: { attemptTimeoutMs: 45_000, deadlineMs: 150_000 } } }),
  http: { headersTimeoutMs: 45_000 },
});
