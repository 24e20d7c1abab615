// Statically registered clients. Ids and secrets are fixed, public and test-only; the
// Rust harness mirrors them in crates/testbed/src/idp.rs (`clients` module) and the README
// lists them.

import { readFileSync } from 'node:fs';

export const GRANT = Object.freeze({
  AUTHORIZATION_CODE: 'authorization_code',
  REFRESH_TOKEN: 'refresh_token',
  CLIENT_CREDENTIALS: 'client_credentials',
  DEVICE_CODE: 'urn:ietf:params:oauth:grant-type:device_code',
  PASSWORD: 'password',
  TOKEN_EXCHANGE: 'urn:ietf:params:oauth:grant-type:token-exchange',
  UMA_TICKET: 'urn:ietf:params:oauth:grant-type:uma-ticket',
});

// Loopback redirect URIs. For `application_type: native` clients oidc-provider accepts any
// port on a registered loopback redirect URI (RFC 8252 §7.3), so `http://127.0.0.1:54321/callback`
// matches `http://127.0.0.1/callback`. The path must match exactly.
const LOOPBACK_REDIRECTS = [
  'http://127.0.0.1/callback',
  'http://127.0.0.1/',
  'http://localhost/callback',
  'http://localhost/',
  'http://[::1]/callback',
  'http://[::1]/',
];
const LOOPBACK_POST_LOGOUT = [
  'http://127.0.0.1/logout',
  'http://127.0.0.1/',
  'http://localhost/logout',
  'http://localhost/',
];

const m2mJwks = JSON.parse(
  readFileSync(new URL('../fixtures/m2m-jwt.jwks.json', import.meta.url), 'utf8'),
);

const confidential = (id, secret, method, grantTypes, extra = {}) => ({
  client_id: id,
  client_secret: secret,
  client_name: id,
  token_endpoint_auth_method: method,
  grant_types: grantTypes,
  response_types: [],
  redirect_uris: [],
  ...extra,
});

export const CLIENTS = [
  {
    client_id: 'sesame-cli',
    client_name: 'sesame CLI (public, native)',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: [
      GRANT.AUTHORIZATION_CODE,
      GRANT.REFRESH_TOKEN,
      GRANT.DEVICE_CODE,
      GRANT.UMA_TICKET,
    ],
    response_types: ['code'],
    redirect_uris: LOOPBACK_REDIRECTS,
    post_logout_redirect_uris: LOOPBACK_POST_LOGOUT,
    scope: 'openid profile email offline_access api',
  },
  {
    // Confidential client with loopback redirects. It is registered as application_type
    // "native" because only native clients get oidc-provider's any-port loopback matching;
    // everything else (client_secret_basic, PKCE optional, refresh tokens) is that of a
    // classic confidential web client.
    client_id: 'sesame-web',
    client_secret: 'sesame-web-secret',
    client_name: 'sesame web (confidential)',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [
      GRANT.AUTHORIZATION_CODE,
      GRANT.REFRESH_TOKEN,
      GRANT.DEVICE_CODE,
      GRANT.UMA_TICKET,
    ],
    response_types: ['code'],
    redirect_uris: LOOPBACK_REDIRECTS,
    post_logout_redirect_uris: LOOPBACK_POST_LOGOUT,
  },
  confidential('m2m-basic', 'm2m-basic-secret', 'client_secret_basic', [
    GRANT.CLIENT_CREDENTIALS, GRANT.REFRESH_TOKEN, GRANT.TOKEN_EXCHANGE,
  ]),
  confidential('m2m-post', 'm2m-post-secret', 'client_secret_post', [
    GRANT.CLIENT_CREDENTIALS, GRANT.REFRESH_TOKEN, GRANT.TOKEN_EXCHANGE,
  ]),
  {
    ...confidential('m2m-jwt', undefined, 'private_key_jwt', [
      GRANT.CLIENT_CREDENTIALS, GRANT.REFRESH_TOKEN, GRANT.TOKEN_EXCHANGE,
    ]),
    client_secret: undefined,
    token_endpoint_auth_signing_alg: 'RS256',
    jwks: m2mJwks,
  },
  confidential('password-client', 'password-secret', 'client_secret_basic', [
    GRANT.PASSWORD, GRANT.REFRESH_TOKEN,
  ]),
  confidential('exchange-client', 'exchange-secret', 'client_secret_basic', [
    GRANT.TOKEN_EXCHANGE, GRANT.CLIENT_CREDENTIALS,
  ]),
  confidential('rs-client', 'rs-secret', 'client_secret_basic', [GRANT.CLIENT_CREDENTIALS]),
  confidential('uma-client', 'uma-secret', 'client_secret_basic', [
    GRANT.UMA_TICKET, GRANT.CLIENT_CREDENTIALS,
  ]),
].map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));

/** Clients allowed to introspect any token (others: only their own). */
export const INTROSPECTION_CLIENTS = new Set(['rs-client']);
