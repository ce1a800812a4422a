/**
 * What sits in the path, with the idle timeouts it enforces. These are facts
 * about other systems, not Breakwater defaults: each number cites where it
 * comes from (also in `docs/presets.md`). `Infinity` means "no such limit".
 */

export const INFRA_NAMES = ['aws-alb', 'aws-nlb', 'gcp-lb', 'azure-lb', 'nginx', 'haproxy', 'envoy', 'cloudflare', 'kubernetes', 'direct'] as const;
export type InfraName = (typeof INFRA_NAMES)[number];

/** The load balancer (or proxy, NAT, conntrack table) between client and server. */
export interface LoadBalancerSpec {
  /**
   * 7: a proxy that ends the client's TCP connection and holds its own to the
   * servers (the ALB 502 race lives there); 4: a flow passes through and is
   * dropped after `idleTimeoutMs` of silence; 0: nothing in the path.
   */
  layer: 0 | 4 | 7;
  /** The load balancer closes (or drops) a client connection idle this long, in ms. Clients must close first. */
  idleTimeoutMs: number;
  /** A layer-7 load balancer keeps an idle connection to a server this long, in ms. Servers must keep theirs longer. */
  upstreamIdleTimeoutMs: number;
  /** The load balancer ends a client connection this long after it opened, idle or not, in ms. */
  maxConnectionLifetimeMs: number;
  /** The load balancer answers with an error (504, 524…) when a response takes longer, in ms. */
  responseTimeoutMs: number;
  /** Where each number comes from. */
  sources: readonly string[];
}

const NONE = Number.POSITIVE_INFINITY;

export const INFRA_PRESETS: Readonly<Record<InfraName, Readonly<LoadBalancerSpec>>> = Object.freeze({
  'aws-alb': Object.freeze({
    layer: 7,
    // "By default, ELB sets the idle timeout value for your load balancer to 60 seconds"; it applies
    // to client and target connections alike, and AWS asks for a target keep-alive above it (else 502).
    idleTimeoutMs: 60_000,
    upstreamIdleTimeoutMs: 60_000,
    // HTTP client keepalive duration: 3,600 s by default, then the ALB closes the client connection.
    maxConnectionLifetimeMs: 3_600_000,
    responseTimeoutMs: NONE,
    sources: [
      'https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout',
      'https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#http-client-keep-alive-duration',
    ],
  }),
  'aws-nlb': Object.freeze({
    layer: 4,
    // TCP listeners: 350 s idle, then the flow is forgotten and the next packet gets an RST.
    idleTimeoutMs: 350_000,
    upstreamIdleTimeoutMs: NONE,
    maxConnectionLifetimeMs: NONE,
    responseTimeoutMs: NONE,
    sources: ['https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#connection-idle-timeout'],
  }),
  'gcp-lb': Object.freeze({
    layer: 7,
    // External Application Load Balancer (GFE): client HTTP keepalive 610 s, backend keepalive 600 s
    // (fixed); Google asks backends for a keepalive above 600 s.
    idleTimeoutMs: 610_000,
    upstreamIdleTimeoutMs: 600_000,
    maxConnectionLifetimeMs: NONE,
    // Backend service timeout: 30 s by default, then the load balancer answers 408/504.
    responseTimeoutMs: 30_000,
    sources: [
      'https://cloud.google.com/load-balancing/docs/https/request-distribution',
      'https://cloud.google.com/load-balancing/docs/https#timeouts_and_retries',
    ],
  }),
  'azure-lb': Object.freeze({
    layer: 4,
    // Load Balancer rules: idle timeout 4 min by default (4–100 min); flows are dropped silently
    // unless "TCP reset on idle" is enabled.
    idleTimeoutMs: 240_000,
    upstreamIdleTimeoutMs: NONE,
    maxConnectionLifetimeMs: NONE,
    responseTimeoutMs: NONE,
    sources: [
      'https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout',
      'https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-reset',
    ],
  }),
  nginx: Object.freeze({
    layer: 7,
    // `keepalive_timeout 75s` (client side, ngx_http_core_module); upstream `keepalive_timeout 60s`
    // (ngx_http_upstream_module, with `keepalive N` set in the upstream block).
    idleTimeoutMs: 75_000,
    upstreamIdleTimeoutMs: 60_000,
    maxConnectionLifetimeMs: NONE,
    // `proxy_read_timeout 60s`: no byte from the server for 60 s → 504.
    responseTimeoutMs: 60_000,
    sources: [
      'https://nginx.org/en/docs/http/ngx_http_core_module.html#keepalive_timeout',
      'https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive_timeout',
      'https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout',
    ],
  }),
  haproxy: Object.freeze({
    layer: 7,
    // HAProxy has no built-in timeouts; the packaged configuration (Debian/Ubuntu /etc/haproxy/haproxy.cfg)
    // sets `timeout client 50000` and `timeout server 50000`. Without `timeout http-keep-alive` (nor
    // `timeout http-request`) the client keep-alive falls back to `timeout client`. Idle server
    // connections (`http-reuse`) are purged by `pool-purge-delay` (5 s: measured closed after ≈ 15 s
    // on 2.6), never later than the server timeout assumed here.
    idleTimeoutMs: 50_000,
    upstreamIdleTimeoutMs: 50_000,
    maxConnectionLifetimeMs: NONE,
    responseTimeoutMs: 50_000,
    sources: [
      'https://docs.haproxy.org/2.6/configuration.html#4-timeout%20http-keep-alive',
      'https://docs.haproxy.org/2.6/configuration.html#5.2-pool-purge-delay',
      'Debian package haproxy: /etc/haproxy/haproxy.cfg (defaults section)',
    ],
  }),
  envoy: Object.freeze({
    layer: 7,
    // HTTP protocol `idle_timeout`: 1 h by default, for downstream and upstream connections alike.
    idleTimeoutMs: 3_600_000,
    upstreamIdleTimeoutMs: 3_600_000,
    maxConnectionLifetimeMs: NONE,
    // Route `timeout`: 15 s by default, then 504.
    responseTimeoutMs: 15_000,
    sources: ['https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts'],
  }),
  cloudflare: Object.freeze({
    layer: 7,
    // Client ↔ Cloudflare: HTTP/1.1 keep-alive and HTTP/2 idle 400 s. Cloudflare ↔ origin: proxy idle
    // timeout 900 s; proxy read timeout 100 s (524).
    idleTimeoutMs: 400_000,
    upstreamIdleTimeoutMs: 900_000,
    maxConnectionLifetimeMs: NONE,
    responseTimeoutMs: 100_000,
    sources: ['https://developers.cloudflare.com/fundamentals/reference/connection-limits/'],
  }),
  kubernetes: Object.freeze({
    layer: 4,
    // Service traffic through kube-proxy is DNAT'ed by conntrack; kube-proxy sets
    // nf_conntrack_tcp_timeout_established to 86,400 s (`conntrack.tcpEstablishedTimeout`, 24 h).
    // Traffic leaving the cluster also crosses cloud NAT (AWS NAT gateway 350 s, Azure 4 min):
    // use that preset, or override `loadBalancer.idleTimeoutMs`.
    idleTimeoutMs: 86_400_000,
    upstreamIdleTimeoutMs: NONE,
    maxConnectionLifetimeMs: NONE,
    responseTimeoutMs: NONE,
    sources: ['https://kubernetes.io/docs/reference/config-api/kube-proxy-config.v1alpha1/#kubeproxy-config-k8s-io-v1alpha1-KubeProxyConntrackConfiguration'],
  }),
  direct: Object.freeze({
    layer: 0,
    // Nothing between client and server: only the server's own keep-alive counts.
    idleTimeoutMs: NONE,
    upstreamIdleTimeoutMs: NONE,
    maxConnectionLifetimeMs: NONE,
    responseTimeoutMs: NONE,
    sources: [],
  }),
});
