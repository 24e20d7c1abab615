// oidc-provider configuration. createProvider() is called at start-up and again on every
// key rotation; all durable state lives in the shared MemoryAdapter.

import Provider from 'oidc-provider';

import { findAccount } from './account.mjs';
import { MemoryAdapter } from './adapter.mjs';
import { CLIENTS, INTROSPECTION_CLIENTS } from './clients.mjs';
import { registerGrants } from './grants.mjs';

/** Non-URI `audience` values are carried as resource indicators with this prefix. */
export const AUDIENCE_URN_PREFIX = 'urn:sesame-testbed:audience:';

// Scopes every resource server accepts (plus whatever the current request asks for).
const BASE_RESOURCE_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'api', 'read', 'write', 'admin'];

export const ROUTES = Object.freeze({
  authorization: '/auth',
  code_verification: '/device',
  device_authorization: '/device/auth',
  end_session: '/session/end',
  introspection: '/token/introspection',
  jwks: '/jwks',
  pushed_authorization_request: '/request',
  registration: '/reg',
  revocation: '/token/revocation',
  token: '/token',
  userinfo: '/me',
});

function resourceScope(ctx) {
  const scopes = new Set(BASE_RESOURCE_SCOPES);
  const add = (value) => {
    if (typeof value === 'string') value.split(' ').filter(Boolean).forEach((s) => scopes.add(s));
  };
  add(ctx?.oidc?.params?.scope);
  const entities = ctx?.oidc?.entities ?? {};
  for (const name of ['RefreshToken', 'AuthorizationCode', 'DeviceCode', 'RotatedRefreshToken']) {
    add(entities[name]?.scope);
  }
  return [...scopes].join(' ');
}

/**
 * @param state {{ issuer: string, apiResource: string, settings: {accessTokenTtl: number,
 *   refreshTokenTtl: number}, signingKeys: object[], cookieKeys: string[] } & object}
 */
export function createProvider(state) {
  const { settings } = state;

  async function getResourceServerInfo(ctx, resourceIndicator) {
    const audience = resourceIndicator.startsWith(AUDIENCE_URN_PREFIX)
      ? decodeURIComponent(resourceIndicator.slice(AUDIENCE_URN_PREFIX.length))
      : resourceIndicator;
    return {
      scope: resourceScope(ctx),
      audience,
      accessTokenFormat: 'jwt',
      accessTokenTTL: settings.accessTokenTtl,
      jwt: { sign: { alg: 'RS256' } },
    };
  }
  state.resourceServerInfo = getResourceServerInfo;

  const provider = new Provider(state.issuer, {
    adapter: MemoryAdapter,
    clients: CLIENTS,
    jwks: { keys: state.signingKeys },
    cookies: { keys: state.cookieKeys },
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'api'],
    routes: ROUTES,
    responseTypes: ['code'],
    clientBasedCORS: () => true,
    pkce: {
      // PKCE (S256 only) for public clients; optional for confidential ones.
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => INTROSPECTION_CLIENTS.has(client.clientId)
          || token.clientId === client.clientId,
      },
      revocation: { enabled: true },
      // DPoP (RFC 9449). Nonces are issued (DPoP-Nonce on replies) and demanded only while
      // a test has switched `requireNonce` on (POST /test/dpop {"require_nonce":true}).
      dPoP: {
        enabled: true,
        nonceSecret: state.dpopNonceSecret,
        requireNonce: () => state.dpopRequireNonce === true,
      },
      // Pushed authorization requests (RFC 9126); not required unless a client is.
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      registration: { enabled: true, initialAccessToken: false },
      registrationManagement: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No resource asked for: the test API. With several granted and none chosen at the
        // token endpoint: the first one.
        defaultResource: async (_ctx, _client, oneOf) => {
          if (oneOf) return Array.isArray(oneOf) ? oneOf[0] : oneOf;
          return state.apiResource;
        },
        // Token requests without `resource` get a token for the resource granted at the
        // authorization request even when `openid` was requested.
        useGrantedResource: async () => true,
        getResourceServerInfo,
      },
    },
    ttl: {
      AccessToken: () => settings.accessTokenTtl,
      ClientCredentials: () => settings.accessTokenTtl,
      RefreshToken: () => settings.refreshTokenTtl,
      IdToken: 300,
      DeviceCode: 600,
      AuthorizationCode: 60,
      Interaction: 3600,
      Session: () => Math.max(settings.refreshTokenTtl, 86400),
      Grant: () => 2 * Math.max(settings.refreshTokenTtl, 86400),
    },
    rotateRefreshToken: true,
    // A refresh token whenever the client may use the refresh_token grant (with or without
    // offline_access: oidc-provider drops offline_access from authorization requests that do
    // not carry prompt=consent, which would leave a CLI without a refresh token).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    extraTokenClaims: async (_ctx, token) => token.sesameExtra,
    formats: {
      customizers: {
        // Every JWT access token is also recorded (by jti) in the adapter so that
        // introspection, revocation, userinfo and token exchange work with it.
        async jwt(_ctx, token, jwt) {
          const { payload } = jwt;
          if (token.kind === 'ClientCredentials' && typeof token.extra?.sub === 'string') {
            payload.sub = token.extra.sub;
          }
          const record = { sesameJwt: true };
          for (const name of token.constructor.IN_PAYLOAD) {
            if (token[name] !== undefined) record[name] = token[name];
          }
          Object.assign(record, {
            jti: payload.jti, iat: payload.iat, exp: payload.exp, kind: token.kind,
          });
          await token.adapter.upsert(payload.jti, record, Math.max(1, payload.exp - payload.iat));
        },
      },
    },
  });

  registerGrants(provider, state);

  provider.on('server_error', (_ctx, err) => {
    console.error('[idp] server_error:', err);
  });
  for (const event of ['grant.error', 'introspection.error', 'revocation.error', 'registration_create.error', 'userinfo.error', 'device_authorization.error', 'authorization.error', 'end_session.error']) {
    provider.on(event, (ctx, err) => {
      console.error(`[idp] ${event}: ${err.error ?? err.message}${err.error_description ? ` (${err.error_description})` : ''}${err.error_detail ? ` [${err.error_detail}]` : ''} ${ctx?.method ?? ''} ${ctx?.path ?? ''}`);
    });
  }

  return provider;
}
