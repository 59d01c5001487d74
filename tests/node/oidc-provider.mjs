// panva's oidc-provider (https://github.com/panva/node-oidc-provider) as a
// third-party OpenID Provider for lmi's device-flow tests (RFC 8628).
//
// Usage: node oidc-provider.mjs [PORT]   (0 or absent: any free port)
// Listens on 127.0.0.1 and prints one JSON line {"issuer","port"} on stdout
// once it accepts connections; exits when stdin closes.
//
// What it is set up with:
// - features.deviceFlow on: device authorization at {issuer}/device/auth,
//   verification page {issuer}/device, oidc-provider's default polling
//   interval (5 s) and code lifetime (10 min);
// - features.devInteractions (oidc-provider's built-in login and consent
//   pages): any login name with any password signs in as that name;
// - one public client, `lmi-device` (no client authentication), allowed
//   the device_code and refresh_token grants and the scopes
//   `openid offline_access profile email`;
// - refresh tokens whenever offline_access was granted; RS256 ID tokens
//   with `sub` = the login name (and `email` in the userinfo only, as
//   oidc-provider conforms ID token claims by default);
// - its metadata at /.well-known/openid-configuration (RFC 8414's location
//   answers 404), with device_authorization_endpoint and
//   authorization_response_iss_parameter_supported.
//
// For pushed authorization requests (RFC 9126) and DPoP (RFC 9449):
// - two public native clients for the browser login, `lmi-par-dpop` and
//   `lmi-par-dpop-nonce`, with a loopback redirect URI (any port,
//   RFC 8252 §7.3), `require_pushed_authorization_requests` and
//   `dpop_bound_access_tokens` (a token request without a proof is refused);
// - features.pushedAuthorizationRequests (on by default in oidc-provider 9)
//   and features.dPoP with a nonceSecret; a DPoP-Nonce is required of the
//   `lmi-par-dpop-nonce` client, or of every client when the environment
//   says OIDC_DPOP_REQUIRE_NONCE=1 (so one run can turn nonces on).
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 0);
const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'lmi-device',
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
    ...['lmi-par-dpop', 'lmi-par-dpop-nonce'].map((client_id) => ({
      client_id,
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
    })),
  ],
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: {
    deviceFlow: { enabled: true },
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    pushedAuthorizationRequests: { enabled: true },
    dPoP: {
      enabled: true,
      nonceSecret: crypto.randomBytes(32),
      requireNonce: (ctx) => process.env.OIDC_DPOP_REQUIRE_NONCE === '1'
        || ctx.oidc?.client?.clientId === 'lmi-par-dpop-nonce',
    },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.test`, email_verified: true };
      },
    };
  },
});
// Quiet: the test reads only the address line.
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error:', err));
server.on('request', provider.callback());

process.stdout.write(`${JSON.stringify({ issuer, port: server.address().port })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
