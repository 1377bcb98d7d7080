// The closest NGINX (open source) equivalent of the rendered HAProxy config, for the
// benchmark's side-by-side figures only. NGINX OSS has no active health checks, no weight 0
// (a drained color's servers are marked `down`) and no cookie stickiness.
import { Color, COLORS, ServerAddress } from "../components";
import { Weights } from "../components/settings";
import { TLS12_CIPHERS, TLS13_CIPHERSUITES } from "../components/tlsListener";

/**
 * NGINX with `workers` worker processes ("auto": one per CPU) whose pid, error log and
 * temporary files live in `dir` (not the system's), up to the opening of its `http` block.
 */
export function nginxPreamble(dir: string, workerConnections: number, workers: number | "auto" = 1): string {
  return `worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${workerConnections}; }
http {
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;`;
}

/**
 * The fields of HAProxy's `option httplog` line that NGINX has, in its order: client address
 * and port, date, frontend, backend/server, connect/header/response/total times, status,
 * bytes, connection number and requests on it, request line. Comparing against a shorter line
 * would credit HAProxy's log with work NGINX does not do.
 */
const HTTPLOG_EQUIVALENT =
  '$remote_addr:$remote_port [$time_local] public app/$upstream_addr ' +
  "$upstream_connect_time/$upstream_header_time/$upstream_response_time/$request_time " +
  '$status $body_bytes_sent - - ---- $connection/$connection_requests "$request"';

export interface NginxPlacement {
  readonly listenPort: number;
  readonly dir: string;
  /** HTTPS beside plain HTTP, as the rendered config's TLS listener has it. */
  readonly tls?: { readonly port: number; readonly certificatePath: string; readonly keyPath: string };
}

/** The rendered TLS listener's terms: TLS 1.2 and 1.3, the same ciphers, no tickets, h2 and http/1.1. */
function nginxTlsServer(tls: NonNullable<NginxPlacement["tls"]>): string {
  return `
    server {
        listen 127.0.0.1:${tls.port} ssl http2;
        ssl_certificate ${tls.certificatePath};
        ssl_certificate_key ${tls.keyPath};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ${TLS12_CIPHERS.join(":")};
        ssl_conf_command Ciphersuites ${TLS13_CIPHERSUITES.join(":")};
        ssl_session_tickets off;
        ssl_session_cache shared:tls:1m;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_connect_timeout 2s;
            proxy_read_timeout 10s;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
        }
    }`;
}

export function renderNginxConfig(
  weights: Weights,
  servers: Readonly<Record<Color, readonly ServerAddress[]>>,
  placement: NginxPlacement,
  accessLog = false,
  workers: number | "auto" = "auto",
): string {
  const upstream = COLORS.flatMap((color) =>
    servers[color].map((s) =>
      weights[color] === 0
        ? `server ${s.host}:${s.port} down;`
        : // The same share per color as the rendered HAProxy config, when both colors have as many replicas.
          `server ${s.host}:${s.port} weight=${weights[color]} max_fails=1 fail_timeout=10s;`,
    ),
  );
  const d = placement.dir;
  return `${nginxPreamble(d, 16_384, workers)}
    ${accessLog ? `log_format td '${HTTPLOG_EQUIVALENT}';\n    access_log ${d}/access.log td;` : "access_log off;"}
    keepalive_timeout 10s;
    upstream app {
        zone app 64k;
        ${upstream.join("\n        ")}
        keepalive 256;
    }
    server {
        listen 127.0.0.1:${placement.listenPort};
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 10s;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
        }
    }${placement.tls ? nginxTlsServer(placement.tls) : ""}
}
`;
}
