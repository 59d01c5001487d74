// OAuth 2.0 / OpenID Connect mock server for lmi's integration tests.
//
// Usage:  node tests/node/mock-server.mjs [PORT]
//   Listens on 127.0.0.1:PORT (default 0 = any free port), prints ONE JSON line
//   {"issuer":"http://127.0.0.1:PORT","port":PORT} on stdout, then serves until
//   stdin is closed (EOF) or it gets SIGTERM/SIGINT. Nothing else is written to
//   stdout. Set LMI_MOCK_LOG=1 to log each request on stderr.
//   Install first: npm ci --prefix tests/node   (Rust helper: tests/support/node_mock.rs)
//
// What the third-party server (npm `oauth2-mock-server` 8.2.3, axa-group) does —
// read from node_modules/oauth2-mock-server/dist/oauth2-server-*.mjs:
//
// * Metadata: GET /.well-known/openid-configuration only (GET
//   /.well-known/oauth-authorization-server is a 404, so an RFC 8414-first client
//   must fall back). It returns: issuer, token_endpoint (ISSUER/token),
//   authorization_endpoint (ISSUER/authorize), userinfo_endpoint (ISSUER/userinfo),
//   jwks_uri (ISSUER/jwks), revocation_endpoint (ISSUER/revoke),
//   end_session_endpoint (ISSUER/endsession), introspection_endpoint
//   (ISSUER/introspect), token_endpoint_auth_methods_supported ["none"],
//   response_types_supported ["code"], response_modes_supported ["query"],
//   grant_types_supported ["client_credentials","authorization_code","password"],
//   id_token_signing_alg_values_supported ["RS256"], subject_types_supported
//   ["public"], code_challenge_methods_supported ["plain","S256"].
//   The issuer is set here to http://127.0.0.1:PORT (no trailing slash); the
//   package itself would say http://localhost:PORT.
// * JWKS: GET /jwks -> {"keys":[<public RSA JWK, alg RS256, random 80-hex kid>]}.
//   Tokens are JWTs signed RS256 with header {typ:"JWT", kid, alg:"RS256"}.
// * POST /token (form-urlencoded; JSON bodies are accepted too). Grants:
//   client_credentials, password, authorization_code, refresh_token. Any other
//   grant_type -> 400 {"error":"invalid_grant"} (no description; NOT
//   unsupported_grant_type); a missing grant_type -> 400 {"error":"invalid_request",
//   "error_description":"Invalid 'grant_type' type"}.
//   - Client authentication is NOT checked at all: Basic auth, client_id/
//     client_secret in the body, or nothing are all accepted, any secret works.
//     (The Basic user name, else body client_id, is only used as the id_token aud.)
//   - Password grant: username/password are NOT checked; access token sub=username.
//   - authorization_code: the code is NOT checked (any string works, reusable),
//     redirect_uri is NOT checked; sub="johndoe".
//   - refresh_token: the refresh token is NOT checked (any string works).
//   - Success body: {access_token, token_type:"Bearer", expires_in:3600, scope?}
//     (+ id_token and refresh_token (random UUID) for every grant EXCEPT
//     client_credentials). `scope` echoes the requested scope (omitted when none
//     was sent for client_credentials/password; "dummy" for code/refresh).
//     Cache-Control: no-store. The access token's exp = iat + 3600, nbf = iat - 10.
//   - Access-token claims: iss, iat, exp, nbf, scope; client_credentials also
//     copies a body param `aud` into aud (this file additionally maps the RFC 8707
//     style `audience` param into aud, see the hook below); password: sub=username,
//     amr=["pwd"]; code/refresh: sub="johndoe", amr=["pwd"].
// * PKCE: GET /authorize stores code_challenge (+ code_challenge_method, default
//   "plain"; "S256" supported; anything else -> 400 JSON, no redirect). At /token
//   it is checked ONLY when the request carries code_verifier: a verifier that
//   does not match, is not 43-128 chars of [A-Za-z0-9-._~], or comes with a code
//   that had no challenge -> 400 invalid_request. A code exchanged WITHOUT
//   code_verifier is accepted even if a challenge was sent (so the server does
//   not prove that the client sent the verifier).
// * GET /authorize: needs redirect_uri (else 400 invalid_request); does not check
//   client_id or redirect_uri. response_type=code -> 302 to
//   redirect_uri?code=<uuid>&state=<state> (state copied when non-empty); any
//   other response_type -> 302 with error=unsupported_response_type&
//   error_description=...&state=. No login page, no consent: a plain HTTP GET
//   (curl, ureq without following redirects) gets the Location header directly.
// * id_token (password, authorization_code, refresh_token grants): iss, iat,
//   exp (iat+3600), nbf, sub="johndoe", aud = client_id (Basic user name, else
//   body client_id; ABSENT if the client sent neither), nonce = the nonce given
//   to /authorize for that code (only for authorization_code, once per code);
//   no nonce on refresh. No email / preferred_username / azp / at_hash, so the
//   user an OIDC client shows is the sub "johndoe". This is already what a
//   standards-compliant client validates (iss, aud, exp, nonce, signature),
//   so no hook is needed to fix aud or nonce.
// * POST /revoke (RFC 7009): always 200 with an empty body, checks nothing,
//   revokes nothing (a revoked refresh token keeps working).
// * GET /userinfo -> {"sub":"johndoe"} (token not checked); POST /introspect ->
//   {"active":true}; GET /endsession redirects to post_logout_redirect_uri.
// * Errors thrown by its assertions come back as 400 {"error":"invalid_request",
//   "error_description":...}; unknown paths are 404 with an empty body.

import { OAuth2Server } from "oauth2-mock-server";

const portArg = process.argv[2];
const port = portArg === undefined ? 0 : Number.parseInt(portArg, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`mock-server: invalid port ${JSON.stringify(portArg)}\n`);
  process.exit(2);
}
const HOST = "127.0.0.1";

const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");

// Map an `audience` request parameter (what lmi sends for OAUTH_AUDIENCE) to the
// access token's aud claim, as real servers (Auth0, Keycloak token exchange...)
// do. Only access tokens carry a `scope` key; id_tokens never do.
server.service.on("beforeTokenSigning", (token, req) => {
  const body = req.body ?? {};
  if (
    "scope" in token.payload &&
    token.payload.aud === undefined &&
    typeof body.audience === "string" &&
    body.audience !== ""
  ) {
    token.payload.aud = body.audience;
  }
});

if (process.env.LMI_MOCK_LOG === "1") {
  server.service.on("beforeResponse", (response, req) => {
    process.stderr.write(
      `mock-server: token ${JSON.stringify(req.body)} -> ${response.statusCode}\n`,
    );
  });
  server.service.on("beforeAuthorizeRedirect", (redirect) => {
    process.stderr.write(`mock-server: authorize -> ${redirect.url.href}\n`);
  });
  server.service.on("beforeRevoke", (response) => {
    process.stderr.write(`mock-server: revoke -> ${response.statusCode}\n`);
  });
}

await server.start(port, HOST);
const actualPort = server.address().port;
// The package derives "http://localhost:PORT"; pin the issuer to the address we
// actually listen on so that clients never try ::1.
server.issuer.url = `http://${HOST}:${actualPort}`;

let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  try {
    await Promise.race([server.stop(), new Promise((r) => setTimeout(r, 2000))]);
  } catch {
    // already stopped
  }
  process.exit(code);
}

process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
process.stdin.on("error", () => shutdown(0));
process.stdin.resume();

process.stdout.write(`${JSON.stringify({ issuer: server.issuer.url, port: actualPort })}\n`);
