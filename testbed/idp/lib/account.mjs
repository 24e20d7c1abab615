// The single test account. Test-only credentials; never use them anywhere real.

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

export function checkPassword(username, password) {
  return username === ALICE.username && password === ALICE.password;
}

/** oidc-provider `findAccount`: only `alice` exists. */
export async function findAccount(_ctx, sub) {
  if (sub !== ALICE.claims.sub) return undefined;
  return {
    accountId: sub,
    async claims() {
      return { ...ALICE.claims };
    },
  };
}
