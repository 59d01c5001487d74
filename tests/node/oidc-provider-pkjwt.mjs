// panva's `oidc-provider` (npm, a certified OpenID Provider) set up for lmi's
// private_key_jwt tests (RFC 7523 §2.2, OpenID Connect Core §9).
//
// Usage:  node tests/node/oidc-provider-pkjwt.mjs
//   Listens on 127.0.0.1 (a free port), prints ONE JSON line
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"token_endpoint":"..."} on
//   stdout, then serves until stdin is closed or it gets SIGTERM/SIGINT.
//   Install first: npm ci --prefix tests/node (Rust side: tests/support/oidc_provider.rs)
//
// Clients (no secrets; token_endpoint_auth_method private_key_jwt; grant
// client_credentials, which oidc-provider needs `features.clientCredentials`
// for), each registered with the public JWK of a test key in testidp/keys/:
//   pkjwt-rsa  client-rsa.jwk.json  (RS256; PS256 also allowed)
//   pkjwt-ec   client-ec.jwk.json   (ES256)
// oidc-provider itself verifies the assertion's signature, iss = sub =
// client_id, aud (issuer or token endpoint URL), exp, and refuses a jti it
// has seen (ReplayDetection).
//
// GET /__test/token-requests answers, as JSON, one entry per POST /token:
// {client_id, auth_method (the client's registered method, when the client
// authenticated), assertion_type, assertion_claims, had_secret, had_basic, status, error,
// error_description, error_detail (the reason the server gives only in its
// logs)}.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

const keysDir = fileURLToPath(new URL('../../testidp/keys/', import.meta.url));
const jwk = (file) => JSON.parse(readFileSync(keysDir + file, 'utf8'));

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
  const client = (id, key) => ({
    client_id: id,
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [key] },
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  });
  const provider = new Provider(issuer, {
    clients: [
      client('pkjwt-rsa', jwk('client-rsa.jwk.json')),
      client('pkjwt-ec', jwk('client-ec.jwk.json')),
    ],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
    },
    clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    },
  });
  provider.proxy = false;
  // The reason behind a refusal (oidc-provider answers only "client
  // authentication failed"), for the records.
  let detail = null;
  provider.on('grant.error', (_ctx, err) => {
    detail = err.error_detail ?? err.cause?.message ?? null;
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const reason = detail;
      detail = null;
      const params = ctx.oidc?.params ?? {};
      // The assertion's claims as sent (decoded, not verified: the
      // provider has verified them already), so a test can read `aud`.
      let assertion_claims = null;
      if (typeof params.client_assertion === 'string') {
        try {
          const payload = params.client_assertion.split('.')[1];
          assertion_claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
        } catch {
          assertion_claims = null;
        }
      }
      records.push({
        client_id: ctx.oidc?.client?.clientId ?? params.client_id ?? null,
        auth_method: ctx.oidc?.client && ctx.status < 400 ? ctx.oidc.client.tokenEndpointAuthMethod : null,
        assertion_type: params.client_assertion_type ?? null,
        had_secret: params.client_secret !== undefined,
        had_basic: /^basic /i.test(ctx.get('authorization')),
        status: ctx.status,
        error: ctx.body?.error ?? null,
        error_description: ctx.body?.error_description ?? null,
        error_detail: reason,
        assertion_claims,
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
