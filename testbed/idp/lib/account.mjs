// The test accounts. Test-only credentials; never use them anywhere real.

export const ALICE = Object.freeze({
  username: 'alice',
  password: 'wonderland',
  claims: Object.freeze({
    sub: 'alice',
    name: 'Alice Liddell',
    given_name: 'Alice',
    family_name: 'Liddell',
    preferred_username: 'alice',
    email: 'alice@example.com',
    email_verified: true,
  }),
});

// A second person, for tests where two end users must get separate tokens (a web
// application's users).
export const DINAH = Object.freeze({
  username: 'dinah',
  password: 'cheshire',
  claims: Object.freeze({
    sub: 'dinah',
    name: 'Dinah Liddell',
    given_name: 'Dinah',
    family_name: 'Liddell',
    preferred_username: 'dinah',
    email: 'dinah@example.com',
    email_verified: true,
  }),
});

const ACCOUNTS = [ALICE, DINAH];

export function checkPassword(username, password) {
  return ACCOUNTS.some((a) => username === a.username && password === a.password);
}

/** The account of a login name (after `checkPassword`). */
export function accountFor(username) {
  return ACCOUNTS.find((a) => a.username === username);
}

/** oidc-provider `findAccount`: alice and dinah exist. */
export async function findAccount(_ctx, sub) {
  const a = ACCOUNTS.find((x) => x.claims.sub === sub);
  if (!a) return undefined;
  return {
    accountId: sub,
    async claims() {
      return { ...a.claims };
    },
  };
}
