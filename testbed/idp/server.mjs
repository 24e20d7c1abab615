// sesame testbed identity provider: npm `oidc-provider` (a certified OpenID Provider) plus
// the extras the sesame tests need (extension grants, WebFinger, a protected API, test
// controls). TEST ONLY: fixed secrets, in-memory state, plain HTTP on 127.0.0.1.
//
// Start: `node server.mjs` (see README.md). Once listening, exactly one JSON line goes to
// stdout: {"issuer":"http://127.0.0.1:PORT","port":PORT}. Logs go to stderr. The process
// exits when stdin reaches end-of-file (so a dead test harness never leaves it running),
// on SIGTERM and on SIGINT.

import { emitReady } from './lib/guard.mjs';

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as querystring from 'node:querystring';

import * as jose from 'jose';

import { checkPassword } from './lib/account.mjs';
import { rawFind, setFindHook } from './lib/adapter.mjs';
import { CLIENTS, GRANT } from './lib/clients.mjs';
import { looksLikeJwt, randomTicket } from './lib/grants.mjs';
import { AUDIENCE_URN_PREFIX, ROUTES, createProvider } from './lib/provider.mjs';
import Provider from 'oidc-provider';

// ------------------------------------------------------------------ settings

function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`[idp] ${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const PORT = envInt('SESAME_IDP_PORT', 0);
const settings = {
  accessTokenTtl: envInt('SESAME_IDP_AT_TTL', 300) || 300,
  refreshTokenTtl: envInt('SESAME_IDP_RT_TTL', 86400) || 86400,
  // `interval` announced by the device authorization endpoint; polling a device_code faster
  // than this (minus 250 ms of slack) gets `slow_down`.
  deviceInterval: envInt('SESAME_IDP_DEVICE_INTERVAL', 1),
};
const KEEP_ALIVE = process.env.SESAME_IDP_KEEP_ALIVE === '1';
const LOG_REQUESTS = process.env.SESAME_IDP_LOG === '1';
const BODY_LIMIT = 1024 * 1024;
const ISSUER_REL = 'http://openid.net/specs/connect/1.0/issuer';

// ------------------------------------------------------------------ lifecycle

function shutdown(reason, code = 0) {
  console.error(`[idp] exiting: ${reason}`);
  process.exit(code);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (!KEEP_ALIVE) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
process.on('uncaughtException', (err) => {
  console.error('[idp] uncaught exception:', err);
});
process.on('unhandledRejection', (err) => {
  console.error('[idp] unhandled rejection:', err);
});

// ------------------------------------------------------------------ keys

let keyCounter = 0;
async function newSigningKey() {
  keyCounter += 1;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = `sig-${keyCounter}-${crypto.randomBytes(4).toString('hex')}`;
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

const publicPart = ({ kty, kid, alg, use, n, e, crv, x, y }) => Object.fromEntries(
  Object.entries({ kty, kid, alg, use, n, e, crv, x, y }).filter(([, v]) => v !== undefined),
);

// ------------------------------------------------------------------ state

const stats = newStats();
function newStats() {
  return {
    token: {},
    token_total: 0,
    authorization: 0,
    device_authorization: 0,
    device_verification: 0,
    introspection: 0,
    revocation: 0,
    registration: 0,
    userinfo: 0,
    end_session: 0,
    jwks: 0,
    discovery: 0,
    webfinger: 0,
    api: 0,
    login_failed: 0,
    device_slow_down: 0,
  };
}

const state = {
  issuer: undefined,
  apiResource: undefined,
  settings,
  signingKeys: [],
  cookieKeys: [crypto.randomBytes(32).toString('base64url')],
  provider: undefined,
  handler: undefined,
  jwks: undefined,
  umaTickets: new Map(),
  devicePolls: new Map(), // device_code -> last poll (ms)
  dpopNonceSecret: crypto.randomBytes(32),
  dpopRequireNonce: false,
  forcedSlowDowns: 0,
  newUmaTicket(data) {
    const ticket = randomTicket();
    state.umaTickets.set(ticket, { ...data, expiresAt: Date.now() + 300_000 });
    return ticket;
  },
  async verifyJwt(value) {
    try {
      const { payload } = await jose.compactVerify(value, state.jwks);
      const claims = JSON.parse(new TextDecoder().decode(payload));
      if (claims.iss !== state.issuer) return undefined;
      return claims;
    } catch {
      return undefined;
    }
  },
};

function rebuildProvider() {
  state.jwks = jose.createLocalJWKSet({ keys: state.signingKeys.map(publicPart) });
  const provider = createProvider(state);
  provider.use(responseTweaks);
  state.provider = provider;
  state.handler = provider.callback();
}

// JWT access tokens carry an audience, and oidc-provider's userinfo endpoint refuses tokens
// with one. Like most providers (Keycloak, Auth0 …) this testbed accepts its own JWT access
// tokens at userinfo as long as they carry the openid scope: the stored record is handed to
// the userinfo route without its audience.
setFindHook((model, payload) => {
  if (model === 'AccessToken' && payload?.sesameJwt && Provider.ctx?.oidc?.route === 'userinfo') {
    delete payload.aud;
  }
  return payload;
});

// ------------------------------------------------------------------ helpers

function send(res, status, body, headers = {}) {
  const isJson = typeof body !== 'string';
  const text = isJson ? JSON.stringify(body) : body;
  res.writeHead(status, {
    'content-type': isJson ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req) {
  const raw = await readBody(req);
  try {
    return JSON.parse(raw || '{}');
  } catch {
    throw Object.assign(new Error('request body must be JSON'), { status: 400 });
  }
}

const isForm = (req) => (req.headers['content-type'] || '').toLowerCase().startsWith('application/x-www-form-urlencoded');

async function readForm(req) {
  const raw = await readBody(req);
  return { ...querystring.parse(raw) };
}

// oidc-provider reads an already consumed body from req.body.
function setForm(req, params) {
  req.body = querystring.stringify(params);
}

function mapAudienceToResource(params) {
  if (params.audience === undefined || params.resource !== undefined) return;
  const values = [].concat(params.audience).filter(Boolean);
  if (!values.length) return;
  const mapped = values.map((a) => (/^[a-z][a-z0-9+.-]*:/i.test(a) && URL.canParse(a)
    ? a
    : `${AUDIENCE_URN_PREFIX}${encodeURIComponent(a)}`));
  params.resource = mapped.length === 1 ? mapped[0] : mapped;
}

async function jwtToHandle(value) {
  if (!looksLikeJwt(value)) return value;
  const payload = await state.verifyJwt(value);
  // Not one of ours (bad signature, other issuer): a handle that matches nothing, so
  // introspection answers {"active":false} instead of unsupported_token_type.
  return typeof payload?.jti === 'string' ? payload.jti : `unknown-${crypto.randomBytes(8).toString('hex')}`;
}

// oidc-provider accepts client_secret_basic and client_secret_post interchangeably. The
// testbed is strict for its static clients so a client that sends its secret the wrong way
// fails here like it would at stricter providers.
const SECRET_METHOD = new Map(CLIENTS
  .filter((c) => ['client_secret_basic', 'client_secret_post'].includes(c.token_endpoint_auth_method))
  .map((c) => [c.client_id, c.token_endpoint_auth_method]));

function wrongSecretMethod(req, params) {
  const auth = req.headers.authorization;
  let used;
  let clientId;
  if (auth && /^basic /i.test(auth)) {
    used = 'client_secret_basic';
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    try {
      clientId = decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replace(/\+/g, '%20'));
    } catch {
      return undefined;
    }
  } else if (typeof params.client_secret === 'string') {
    used = 'client_secret_post';
    clientId = params.client_id;
  } else {
    return undefined;
  }
  const registered = SECRET_METHOD.get(clientId);
  if (registered && registered !== used) {
    return `client ${clientId} is registered for ${registered} but authenticated with ${used}`;
  }
  return undefined;
}

function rejectClient(res, description) {
  console.error(`[idp] invalid_client: ${description}`);
  send(res, 401, { error: 'invalid_client', error_description: description });
}

function tooFast(deviceCode) {
  const now = Date.now();
  const last = state.devicePolls.get(deviceCode);
  state.devicePolls.set(deviceCode, now);
  if (state.forcedSlowDowns > 0) {
    state.forcedSlowDowns -= 1;
    return true;
  }
  return last !== undefined && now - last < settings.deviceInterval * 1000 - 250;
}
setInterval(() => {
  const cutoff = Date.now() - 15 * 60_000;
  for (const [code, last] of state.devicePolls) if (last < cutoff) state.devicePolls.delete(code);
  const now = Date.now();
  for (const [ticket, data] of state.umaTickets) if (data.expiresAt <= now) state.umaTickets.delete(ticket);
}, 60_000).unref();

function bump(name) {
  stats[name] += 1;
}

// ------------------------------------------------------------------ provider pre-processing

const INTERACTION_SUBMIT = /^\/interaction\/([^/]+)$/;

// Runs before oidc-provider sees the request. Returns true when the response was sent here.
async function preprocess(req, res, url) {
  const path = url.pathname;
  const { method } = req;

  if (path === ROUTES.token && method === 'POST') {
    let params = {};
    if (isForm(req)) {
      params = await readForm(req);
      mapAudienceToResource(params);
      setForm(req, params);
    }
    const gt = typeof params.grant_type === 'string' ? params.grant_type : '(none)';
    stats.token[gt] = (stats.token[gt] || 0) + 1;
    stats.token_total += 1;
    const wrong = wrongSecretMethod(req, params);
    if (wrong) {
      rejectClient(res, wrong);
      return true;
    }
    if (gt === GRANT.DEVICE_CODE && typeof params.device_code === 'string' && tooFast(params.device_code)) {
      stats.device_slow_down += 1;
      send(res, 400, {
        error: 'slow_down',
        error_description: `polling too frequently: wait at least ${settings.deviceInterval}s between requests (and add 5s after slow_down)`,
      });
      return true;
    }
    return false;
  }

  if (path === ROUTES.authorization) {
    bump('authorization');
    if (method === 'GET' && url.searchParams.has('audience') && !url.searchParams.has('resource')) {
      const params = { audience: url.searchParams.getAll('audience') };
      mapAudienceToResource(params);
      for (const r of [].concat(params.resource)) url.searchParams.append('resource', r);
      req.url = `${url.pathname}?${url.searchParams.toString()}`;
    }
    return false;
  }

  if ((path === ROUTES.device_authorization || path === ROUTES.pushed_authorization_request) && method === 'POST') {
    if (path === ROUTES.device_authorization) bump('device_authorization');
    if (isForm(req)) {
      const params = await readForm(req);
      mapAudienceToResource(params);
      setForm(req, params);
      const wrong = wrongSecretMethod(req, params);
      if (wrong) {
        rejectClient(res, wrong);
        return true;
      }
    }
    return false;
  }

  if ((path === ROUTES.introspection || path === ROUTES.revocation) && method === 'POST') {
    bump(path === ROUTES.introspection ? 'introspection' : 'revocation');
    if (isForm(req)) {
      const params = await readForm(req);
      // oidc-provider refuses to introspect/revoke structured (JWT) tokens; every JWT access
      // token this testbed issues is also stored by its jti, so hand that over instead.
      if (typeof params.token === 'string') params.token = await jwtToHandle(params.token);
      setForm(req, params);
      const wrong = wrongSecretMethod(req, params);
      if (wrong) {
        rejectClient(res, wrong);
        return true;
      }
    }
    return false;
  }

  if (path === ROUTES.userinfo) {
    bump('userinfo');
    const auth = req.headers.authorization;
    if (auth && /^bearer /i.test(auth)) {
      const value = auth.slice(7).trim();
      req.headers.authorization = `Bearer ${await jwtToHandle(value)}`;
    }
    if (method === 'POST' && isForm(req)) {
      const params = await readForm(req);
      if (typeof params.access_token === 'string') params.access_token = await jwtToHandle(params.access_token);
      setForm(req, params);
    }
    return false;
  }

  if (path === ROUTES.registration || path.startsWith(`${ROUTES.registration}/`)) {
    if (method === 'POST') bump('registration');
    return false;
  }
  if (path === ROUTES.jwks) bump('jwks');
  if (path.startsWith('/.well-known/openid-configuration') || path.startsWith('/.well-known/oauth-authorization-server')) bump('discovery');
  if (path === ROUTES.end_session || path.startsWith(`${ROUTES.end_session}/`)) bump('end_session');
  if (path === ROUTES.code_verification && method === 'POST') bump('device_verification');

  // devInteractions' login form accepts any login; only the test accounts (lib/account.mjs) may pass here.
  const m = INTERACTION_SUBMIT.exec(path);
  if (m && method === 'POST' && isForm(req)) {
    const params = await readForm(req);
    if (params.prompt === 'login' && !checkPassword(params.login, params.password)) {
      bump('login_failed');
      console.error(`[idp] login failed for ${JSON.stringify(params.login)}`);
      res.writeHead(303, { location: `/interaction/${m[1]}?error=invalid_credentials`, 'content-length': 0 });
      res.end();
      return true;
    }
    setForm(req, params);
  }
  return false;
}

// Koa middleware inside the provider: adds `interval` to device authorization responses,
// keeps the HTML pages offline-friendly (no Google Fonts @import) and shows the failed-login
// message on the devInteractions login page.
async function responseTweaks(ctx, next) {
  await next();
  if (ctx.path === ROUTES.device_authorization && ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
      && typeof ctx.body.device_code === 'string') {
    ctx.body = { ...ctx.body, interval: settings.deviceInterval };
    return;
  }
  if (typeof ctx.body !== 'string' || !String(ctx.type).includes('html')) return;
  let html = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);?/g, '');
  if (INTERACTION_SUBMIT.test(ctx.path) && ctx.method === 'GET') {
    html = html.replace('placeholder="Enter any login"', 'placeholder="Username (alice)"');
    if (ctx.query.error === 'invalid_credentials') {
      html = html.replace(
        '<form autocomplete="off"',
        '<p class="login-error" role="alert" style="color:#d50000;text-align:center">Invalid username or password.</p>\n<form autocomplete="off"',
      );
    }
  }
  ctx.body = html;
}

// ------------------------------------------------------------------ WebFinger (RFC 7033)

const WEBFINGER = /^(?:\/[^/]+)?\/\.well-known\/webfinger$/;

function webfinger(req, res, url) {
  bump('webfinger');
  const headers = { 'access-control-allow-origin': '*' };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, { error: 'method_not_allowed' }, { ...headers, allow: 'GET, HEAD' });
    return;
  }
  const resource = url.searchParams.get('resource');
  if (!resource) {
    send(res, 400, { error: 'invalid_request', error_description: 'missing resource parameter' }, headers);
    return;
  }
  const rels = url.searchParams.getAll('rel');
  const links = rels.length === 0 || rels.includes(ISSUER_REL)
    ? [{ rel: ISSUER_REL, href: state.issuer }]
    : [];
  const body = JSON.stringify({ subject: resource, links });
  res.writeHead(200, {
    ...headers,
    'content-type': 'application/jrd+json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

// ------------------------------------------------------------------ UMA 2.0 discovery

function umaConfiguration() {
  const u = (p) => `${state.issuer}${p}`;
  return {
    issuer: state.issuer,
    authorization_endpoint: u(ROUTES.authorization),
    token_endpoint: u(ROUTES.token),
    jwks_uri: u(ROUTES.jwks),
    registration_endpoint: u(ROUTES.registration),
    introspection_endpoint: u(ROUTES.introspection),
    revocation_endpoint: u(ROUTES.revocation),
    userinfo_endpoint: u(ROUTES.userinfo),
    end_session_endpoint: u(ROUTES.end_session),
    device_authorization_endpoint: u(ROUTES.device_authorization),
    permission_endpoint: u('/test/uma/ticket'),
    grant_types_supported: [
      GRANT.AUTHORIZATION_CODE, GRANT.CLIENT_CREDENTIALS, GRANT.REFRESH_TOKEN,
      GRANT.DEVICE_CODE, GRANT.PASSWORD, GRANT.TOKEN_EXCHANGE, GRANT.UMA_TICKET,
    ],
    token_endpoint_auth_methods_supported: [
      'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none',
    ],
    response_types_supported: ['code'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access', 'api'],
    uma_profiles_supported: [],
    claim_token_profiles_supported: ['http://openid.net/specs/openid-connect-core-1_0.html#IDToken'],
  };
}

// ------------------------------------------------------------------ protected API

function apiChallenge(res, status, error, description, extra = '') {
  const parts = ['realm="sesame-testbed"'];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${description.replace(/["\\]/g, '')}"`);
  if (extra) parts.push(extra);
  send(res, status, { error: error || 'unauthorized', error_description: description || 'bearer token required' }, {
    'www-authenticate': `Bearer ${parts.join(', ')}`,
  });
}

async function api(req, res, url) {
  bump('api');
  const path = url.pathname;
  const auth = req.headers.authorization || '';
  const umaPath = path.startsWith('/api/uma/');

  const challenge = (error, description) => {
    if (umaPath) {
      // UMA 2.0: no or unusable RPT → a permission ticket for this resource.
      const ticket = state.newUmaTicket({ resource: `${state.issuer}${path}`, scopes: ['read'], needInfo: false });
      send(res, 401, { error: error || 'unauthorized', error_description: description || 'RPT required' }, {
        'www-authenticate': `UMA realm="sesame-testbed", as_uri="${state.issuer}", ticket="${ticket}"`,
      });
      return;
    }
    apiChallenge(res, 401, error, description);
  };

  const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!match) {
    challenge(undefined, undefined);
    return;
  }
  const token = match[1];
  let payload;
  try {
    ({ payload } = await jose.jwtVerify(token, state.jwks, {
      issuer: state.issuer,
      audience: state.apiResource,
      typ: 'at+jwt',
    }));
  } catch (err) {
    challenge('invalid_token', err.code === 'ERR_JWT_EXPIRED' ? 'access token expired' : `access token rejected: ${err.message}`);
    return;
  }
  const record = rawFind('AccessToken', payload.jti) || rawFind('ClientCredentials', payload.jti);
  if (!record) {
    const expired = typeof payload.exp === 'number' && payload.exp <= Date.now() / 1000;
    challenge('invalid_token', expired ? 'access token expired' : 'access token was revoked');
    return;
  }

  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
  const needScope = /^\/api\/require-scope\/([^/]+)$/.exec(path);
  if (needScope && !scopes.includes(decodeURIComponent(needScope[1]))) {
    const scope = decodeURIComponent(needScope[1]);
    apiChallenge(res, 403, 'insufficient_scope', `scope ${scope} required`, `scope="${scope.replace(/["\\]/g, '')}"`);
    return;
  }
  if (umaPath) {
    const permissions = payload.authorization?.permissions;
    const resource = `${state.issuer}${path}`;
    if (!Array.isArray(permissions) || !permissions.some((p) => p.rsid === resource)) {
      challenge('insufficient_scope', 'RPT lacks a permission for this resource');
      return;
    }
  }

  send(res, 200, {
    sub: payload.sub,
    client_id: payload.client_id,
    aud: payload.aud,
    scope: payload.scope ?? null,
    method: req.method,
    path,
    exp: payload.exp,
    ...(payload.authorization ? { authorization: payload.authorization } : {}),
  });
}

// ------------------------------------------------------------------ test controls

function currentConfig() {
  return {
    access_token_ttl: settings.accessTokenTtl,
    refresh_token_ttl: settings.refreshTokenTtl,
    device_interval: settings.deviceInterval,
  };
}

async function testControls(req, res, url) {
  const remote = req.socket.remoteAddress || '';
  if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(remote)) {
    send(res, 403, { error: 'forbidden' });
    return;
  }
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /test/health':
      send(res, 200, { ok: true, issuer: state.issuer });
      return;
    case 'GET /test/stats':
      send(res, 200, stats);
      return;
    case 'POST /test/stats/reset':
      Object.assign(stats, newStats());
      send(res, 200, stats);
      return;
    case 'POST /test/rotate-keys': {
      state.signingKeys.unshift(await newSigningKey());
      rebuildProvider();
      const kids = state.signingKeys.map((k) => k.kid);
      console.error(`[idp] signing keys rotated: ${kids.join(', ')}`);
      send(res, 200, { kid: kids[0], kids });
      return;
    }
    case 'POST /test/dpop': {
      const body = await readJson(req);
      if (body.require_nonce !== undefined) state.dpopRequireNonce = body.require_nonce === true;
      send(res, 200, { require_nonce: state.dpopRequireNonce });
      return;
    }
    case 'POST /test/device/slow-down':
      state.forcedSlowDowns += 1;
      send(res, 200, { pending_slow_downs: state.forcedSlowDowns });
      return;
    case 'GET /test/config':
      send(res, 200, currentConfig());
      return;
    case 'POST /test/config': {
      const body = await readJson(req);
      for (const [k, field, min] of [['access_token_ttl', 'accessTokenTtl', 1], ['refresh_token_ttl', 'refreshTokenTtl', 1], ['device_interval', 'deviceInterval', 0]]) {
        if (body[k] !== undefined) {
          if (!Number.isInteger(body[k]) || body[k] < min) {
            send(res, 400, { error: 'invalid_request', error_description: `${k} must be an integer >= ${min}` });
            return;
          }
          settings[field] = body[k];
        }
      }
      send(res, 200, currentConfig());
      return;
    }
    case 'POST /test/uma/ticket': {
      const body = await readJson(req);
      // {"resource","scopes","need_info"} or UMA permission-endpoint style
      // {"resource_id","resource_scopes"} (or a one-element array of either).
      const item = Array.isArray(body) ? body[0] ?? {} : body;
      const resource = item.resource ?? item.resource_id;
      const scopes = item.scopes ?? item.resource_scopes ?? [];
      if (typeof resource !== 'string' || !resource || !Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')) {
        send(res, 400, { error: 'invalid_request', error_description: 'resource (string) and scopes (array of strings) required' });
        return;
      }
      const ticket = state.newUmaTicket({ resource, scopes, needInfo: item.need_info === true });
      send(res, 201, { ticket });
      return;
    }
    default:
      send(res, 404, { error: 'not_found', error_description: `no test control ${route}` });
  }
}

// ------------------------------------------------------------------ server

async function handle(req, res) {
  const started = Date.now();
  if (LOG_REQUESTS) {
    res.on('finish', () => console.error(`[idp] ${req.method} ${req.url} -> ${res.statusCode} (${Date.now() - started} ms)`));
  }
  const url = new URL(req.url, state.issuer);
  const path = url.pathname;
  try {
    if (path.startsWith('/test/')) {
      await testControls(req, res, url);
      return;
    }
    if (WEBFINGER.test(path)) {
      webfinger(req, res, url);
      return;
    }
    if (path === '/.well-known/uma2-configuration') {
      send(res, 200, umaConfiguration(), { 'access-control-allow-origin': '*' });
      return;
    }
    if (path === '/api' || path.startsWith('/api/')) {
      await api(req, res, url);
      return;
    }
    if (await preprocess(req, res, url)) return;
    state.handler(req, res);
  } catch (err) {
    console.error(`[idp] error handling ${req.method} ${req.url}:`, err);
    if (!res.headersSent) {
      send(res, err.status || 500, { error: err.status ? 'invalid_request' : 'server_error', error_description: err.message });
    } else {
      res.destroy();
    }
  }
}

state.signingKeys.push(await newSigningKey());

const server = http.createServer((req, res) => {
  handle(req, res);
});
server.keepAliveTimeout = 5_000;

server.on('error', (err) => shutdown(`listen failed: ${err.message}`, 1));
server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  state.issuer = `http://127.0.0.1:${port}`;
  state.apiResource = `${state.issuer}/api`;
  rebuildProvider();
  console.error(`[idp] listening on ${state.issuer} (${JSON.stringify(currentConfig())})`);
  // Test bed self-test only: lets the harness's stall diagnosis be exercised.
  if (process.env.SESAME_IDP_HOLD_READY === '1') {
    console.error('[idp] holding the ready line back (test bed self-test)');
    return;
  }
  emitReady({ issuer: state.issuer, port });
});
