// panva's `oidc-provider` (npm, a certified OpenID Provider) set up for lmi's
// DPoP tests (RFC 9449) of service tokens.
//
// Usage:  node tests/node/oidc-provider-dpop.mjs [--nonce]
//   Listens on 127.0.0.1 (a free port), prints ONE JSON line
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"token_endpoint":"..."} on
//   stdout, then serves until stdin is closed or it gets SIGTERM/SIGINT.
//   Install first: npm ci --prefix tests/node (Rust side: tests/support/oidc_provider.rs)
//
// One client, `dpop-svc` (secret `dpop-secret`, client_secret_basic, grant
// client_credentials) with `dpop_bound_access_tokens: true`: every token
// request must carry a valid DPoP proof (oidc-provider checks its
// signature, typ, htm, htu, iat and jti) and the token is bound to the
// proof's key. With --nonce, `features.dPoP.requireNonce` is on (with a
// `nonceSecret`): a proof without the server's current nonce gets
// 400 use_dpop_nonce and a DPoP-Nonce header.
//
// GET /__test/token-requests answers, as JSON, one entry per POST /token:
// {status, error, error_description, had_dpop, token_type}.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const requireNonce = process.argv.includes('--nonce');
const records = [];
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__test/token-requests') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(records));
    return;
  }
  handler(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'dpop-svc',
        client_secret: 'dpop-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        dpop_bound_access_tokens: true,
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => requireNonce,
      },
    },
  });
  provider.proxy = false;
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') {
      records.push({
        status: ctx.status,
        error: ctx.body?.error ?? null,
        error_description: ctx.body?.error_description ?? null,
        had_dpop: ctx.get('dpop') !== '',
        token_type: ctx.body?.token_type ?? null,
      });
    }
  });
  handler = provider.callback();
  process.stdout.write(
    `${JSON.stringify({ issuer, port, token_endpoint: `${issuer}/token` })}\n`,
  );
});

const stop = () => server.close(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
