// Extension grants registered with provider.registerGrantType():
//   - password (RFC 6749 §4.3), test account only
//   - token exchange (RFC 8693)
//   - UMA 2.0 ticket grant (urn:ietf:params:oauth:grant-type:uma-ticket)
//
// They reuse oidc-provider's own grant helpers (deep imports; the package version is pinned
// exactly in package.json, so these internal paths are stable for us).

import * as crypto from 'node:crypto';

import { errors } from 'oidc-provider';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import { issueTokens } from 'oidc-provider/lib/helpers/grant_common.js';

import { accountFor, checkPassword } from './account.mjs';
import { GRANT } from './clients.mjs';

const {
  CustomOIDCProviderError, InvalidRequest, InvalidScope,
} = errors;

// oidc-provider's own InvalidGrant/InvalidTarget hide their description ("grant request is
// invalid"); these carry a readable error_description.
const invalidGrant = (description) => new CustomOIDCProviderError('invalid_grant', description);
const invalidTarget = (description) => new CustomOIDCProviderError('invalid_target', description);

export const TOKEN_TYPE = Object.freeze({
  ACCESS_TOKEN: 'urn:ietf:params:oauth:token-type:access_token',
  JWT: 'urn:ietf:params:oauth:token-type:jwt',
  ID_TOKEN: 'urn:ietf:params:oauth:token-type:id_token',
  REFRESH_TOKEN: 'urn:ietf:params:oauth:token-type:refresh_token',
});

const DEFAULT_USER_SCOPE = 'openid profile email offline_access api';

const splitScope = (s) => (s ? s.split(' ').filter(Boolean) : []);

function single(value, name) {
  if (Array.isArray(value)) {
    if (value.length > 1) {
      throw invalidTarget(`only a single ${name} value is supported by this testbed`);
    }
    return value[0];
  }
  return value;
}

export function looksLikeJwt(value) {
  return typeof value === 'string' && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(value);
}

/**
 * Registers the extension grants on a freshly built provider.
 *
 * `state` gives: apiResource, verifyJwt(value) -> payload|undefined, umaTickets (Map),
 * newUmaTicket(data) -> ticket, resourceServerInfo(ctx, resource, client).
 */
export function registerGrants(provider, state) {
  const helpers = Object.fromEntries(
    Object.entries(grantHelpers)
      .filter(([, fn]) => typeof fn === 'function')
      .map(([name, fn]) => [name, fn.bind(undefined, provider)]),
  );

  async function resourceServerFor(ctx, requested) {
    const resource = single(requested, 'resource') || state.apiResource;
    if (!URL.parse(resource)) throw invalidTarget('resource indicator must be an absolute URI');
    const info = await state.resourceServerInfo(ctx, resource, ctx.oidc.client);
    return { resource, rs: new provider.ResourceServer(resource, info) };
  }

  // Looks up an access token this provider issued (opaque value or JWT) and returns the
  // oidc-provider model instance (AccessToken or ClientCredentials), or undefined.
  async function findIssuedAccessToken(value) {
    let id = value;
    if (looksLikeJwt(value)) {
      const payload = await state.verifyJwt(value);
      if (!payload?.jti) return undefined;
      id = payload.jti;
    }
    return (await provider.AccessToken.find(id))
      || (await provider.ClientCredentials.find(id));
  }

  // ---------------------------------------------------------------- password
  async function passwordHandler(ctx) {
    const { params, client } = ctx.oidc;
    if (!params.username || !params.password) {
      throw new InvalidRequest('missing required parameter(s) username, password');
    }
    if (!checkPassword(params.username, params.password)) {
      throw invalidGrant('invalid username or password');
    }

    // A proof on the request binds the tokens to its key (RFC 9449 §5), as the native
    // grants do; without this the password grant would hand out bearer tokens to a DPoP
    // client.
    const dPoP = await helpers.validateDpop(ctx);
    helpers.checkDpopRequired(ctx, dPoP);
    const scope = params.scope || client.scope || DEFAULT_USER_SCOPE;
    helpers.validateClientScope(ctx, new Set(splitScope(scope)));
    const { resource } = await resourceServerFor(ctx, params.resource);

    const accountId = accountFor(params.username).claims.sub;
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(scope);
    grant.addResourceScope(resource, scope);
    const grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);

    const source = {
      accountId,
      clientId: client.clientId,
      grantId,
      scope,
      scopes: new Set(splitScope(scope)),
      resource,
      resourceIndicators: new Set([resource]),
      expiresWithSession: false,
      authTime: Math.floor(Date.now() / 1000),
      amr: ['pwd'],
    };

    await issueTokens(provider, helpers, ctx, source, grant, {
      gty: GRANT.PASSWORD,
      entityLabel: 'password grant',
      dPoP,
    });
  }

  provider.registerGrantType(
    GRANT.PASSWORD,
    passwordHandler,
    ['username', 'password', 'scope', 'resource', 'audience'],
    ['resource', 'audience'],
  );

  // ---------------------------------------------------------------- token exchange
  const acceptedSubjectTypes = new Set([TOKEN_TYPE.ACCESS_TOKEN, TOKEN_TYPE.JWT]);

  async function tokenExchangeHandler(ctx) {
    const { params, client } = ctx.oidc;
    if (!params.subject_token || !params.subject_token_type) {
      throw new InvalidRequest('missing required parameter(s) subject_token, subject_token_type');
    }
    if (!acceptedSubjectTypes.has(params.subject_token_type)) {
      throw new InvalidRequest(`unsupported subject_token_type (accepted: ${[...acceptedSubjectTypes].join(', ')})`);
    }
    const requestedType = params.requested_token_type || TOKEN_TYPE.ACCESS_TOKEN;
    if (!acceptedSubjectTypes.has(requestedType)) {
      throw new InvalidRequest(`unsupported requested_token_type (supported: ${[...acceptedSubjectTypes].join(', ')})`);
    }

    const subject = await findIssuedAccessToken(params.subject_token);
    if (!subject) {
      throw new InvalidRequest('subject_token is invalid, expired or was not issued by this provider');
    }

    let actor;
    if (params.actor_token) {
      if (!acceptedSubjectTypes.has(params.actor_token_type)) {
        throw new InvalidRequest('unsupported or missing actor_token_type');
      }
      actor = await findIssuedAccessToken(params.actor_token);
      if (!actor) throw new InvalidRequest('actor_token is invalid or expired');
    }

    const subjectScopes = splitScope(subject.scope);
    let scopes = subjectScopes;
    if (params.scope) {
      scopes = splitScope(params.scope);
      const missing = scopes.filter((s) => !subjectScopes.includes(s));
      if (missing.length) {
        throw new InvalidScope('requested scope exceeds the scope of the subject_token', missing.join(' '));
      }
    }
    const scope = scopes.join(' ') || undefined;

    const { resource, rs } = await resourceServerFor(ctx, params.resource);
    const extra = {};
    if (actor) extra.act = { sub: actor.accountId || actor.clientId };

    let at;
    if (subject.accountId) {
      const grant = new provider.Grant({ accountId: subject.accountId, clientId: client.clientId });
      if (scope) {
        grant.addOIDCScope(scope);
        grant.addResourceScope(resource, scope);
      }
      const grantId = await grant.save();
      at = new provider.AccessToken({
        accountId: subject.accountId,
        client,
        grantId,
        gty: GRANT.TOKEN_EXCHANGE,
        expiresWithSession: false,
      });
    } else {
      // A client's own token (client credentials): the new token keeps that client as `sub`.
      at = new provider.ClientCredentials({ client });
      extra.sub = subject.clientId;
    }
    at.resourceServer = rs;
    at.scope = scope ? scopes.filter((s) => rs.scopes.has(s)).join(' ') || undefined : undefined;
    if (Object.keys(extra).length) at.sesameExtra = extra;

    ctx.oidc.entity(at.kind, at);
    const value = await at.save();

    ctx.body = helpers.buildTokenResponse({
      accessToken: value,
      expiresIn: at.expiration,
      issuedTokenType: requestedType,
      scope: at.scope,
      tokenType: 'Bearer',
    });
  }

  provider.registerGrantType(
    GRANT.TOKEN_EXCHANGE,
    tokenExchangeHandler,
    [
      'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
      'requested_token_type', 'scope', 'resource', 'audience',
    ],
    ['resource', 'audience'],
  );

  // ---------------------------------------------------------------- UMA ticket grant
  async function umaHandler(ctx) {
    const { params, client } = ctx.oidc;
    if (!params.ticket) throw new InvalidRequest('missing required parameter ticket');

    const ticket = state.umaTickets.get(params.ticket);
    if (!ticket || ticket.expiresAt <= Date.now()) {
      state.umaTickets.delete(params.ticket);
      ctx.status = 403;
      ctx.body = {
        error: 'request_denied',
        error_description: 'the permission ticket is unknown, expired or already used',
      };
      return;
    }
    state.umaTickets.delete(params.ticket);

    // Pushed claims: an ID token or access token this provider issued identifies the
    // requesting party.
    let rqpSub;
    if (params.claim_token) {
      const payload = await state.verifyJwt(params.claim_token);
      if (payload?.sub) rqpSub = payload.sub;
    }

    if (ticket.needInfo && !rqpSub) {
      const next = state.newUmaTicket({ ...ticket, needInfo: false });
      ctx.status = 403;
      ctx.body = {
        error: 'need_info',
        error_description: 'the requesting party must provide claims (redirect the user, or push a claim_token)',
        ticket: next,
        redirect_user: true,
        required_claims: [{
          name: 'sub',
          friendly_name: 'subject',
          claim_type: 'sub',
          claim_token_format: ['http://openid.net/specs/openid-connect-core-1_0.html#IDToken'],
          issuer: [provider.issuer],
        }],
      };
      return;
    }

    let scopes = ticket.scopes;
    if (params.scope) {
      const requested = splitScope(params.scope);
      const missing = requested.filter((s) => !ticket.scopes.includes(s));
      if (missing.length) {
        throw new InvalidScope('requested scope is not on the permission ticket', missing.join(' '));
      }
      scopes = requested;
    }

    const permissions = [{ rsid: ticket.resource, rsname: ticket.resource, scopes }];
    let upgraded = false;
    if (params.rpt) {
      const previous = await findIssuedAccessToken(params.rpt);
      const old = previous?.extra?.authorization?.permissions;
      if (Array.isArray(old)) {
        upgraded = true;
        for (const p of old) {
          if (!permissions.some((q) => q.rsid === p.rsid)) permissions.push(p);
        }
      }
    }

    const { rs } = await resourceServerFor(ctx, params.resource);
    const at = new provider.ClientCredentials({ client });
    at.resourceServer = rs;
    at.scope = [...new Set(permissions.flatMap((p) => p.scopes))].join(' ') || undefined;
    at.sesameExtra = {
      authorization: { permissions },
      ...(rqpSub ? { sub: rqpSub } : {}),
    };

    ctx.oidc.entity('ClientCredentials', at);
    const value = await at.save();
    ctx.body = {
      ...helpers.buildTokenResponse({
        accessToken: value,
        expiresIn: at.expiration,
        scope: at.scope,
        tokenType: 'Bearer',
      }),
      upgraded,
    };
  }

  provider.registerGrantType(
    GRANT.UMA_TICKET,
    umaHandler,
    ['ticket', 'claim_token', 'claim_token_format', 'pct', 'rpt', 'scope', 'resource', 'audience', 'permission'],
    ['resource', 'audience', 'permission'],
  );
}

export function randomTicket() {
  return crypto.randomBytes(24).toString('base64url');
}
