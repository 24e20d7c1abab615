// In-memory storage adapter for oidc-provider, shared by every Provider instance the
// process creates. Key rotation (POST /test/rotate-keys) replaces the Provider instance;
// because all state lives in these module-level maps, sessions, grants, tokens and
// dynamically registered clients survive the swap.

const store = new Map(); // `${model}:${id}` -> { payload, expiresAt (ms) | undefined }
const grantIndex = new Map(); // grantId -> Set of store keys
const userCodeIndex = new Map(); // userCode -> store key (DeviceCode)
const uidIndex = new Map(); // uid -> store key (Session)

const key = (model, id) => `${model}:${id}`;

function live(entry) {
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) return undefined;
  return entry;
}

function remove(k) {
  const entry = store.get(k);
  if (!entry) return;
  store.delete(k);
  const { payload } = entry;
  if (payload.grantId) grantIndex.get(payload.grantId)?.delete(k);
  if (payload.userCode && userCodeIndex.get(payload.userCode) === k) userCodeIndex.delete(payload.userCode);
  if (payload.uid && uidIndex.get(payload.uid) === k) uidIndex.delete(payload.uid);
}

// Drop expired entries now and then so a long-running demo does not grow without bound.
setInterval(() => {
  const now = Date.now();
  for (const [k, entry] of store) {
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) remove(k);
  }
}, 60_000).unref();

// Hook used to tweak a found record (see server.mjs: JWT access tokens at the userinfo
// endpoint). Receives (modelName, payload) and returns the payload to hand back.
let findHook = (_model, payload) => payload;
export function setFindHook(fn) {
  findHook = fn;
}

export class MemoryAdapter {
  constructor(name) {
    this.name = name;
  }

  async upsert(id, payload, expiresIn) {
    const k = key(this.name, id);
    remove(k);
    store.set(k, {
      payload: structuredClone(payload),
      expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined,
    });
    if (payload.grantId) {
      if (!grantIndex.has(payload.grantId)) grantIndex.set(payload.grantId, new Set());
      grantIndex.get(payload.grantId).add(k);
    }
    if (payload.userCode) userCodeIndex.set(payload.userCode, k);
    if (payload.uid) uidIndex.set(payload.uid, k);
  }

  #get(k) {
    const entry = live(store.get(k));
    if (!entry) return undefined;
    return findHook(this.name, structuredClone(entry.payload));
  }

  async find(id) {
    return this.#get(key(this.name, id));
  }

  async findByUserCode(userCode) {
    const k = userCodeIndex.get(userCode);
    return k ? this.#get(k) : undefined;
  }

  async findByUid(uid) {
    const k = uidIndex.get(uid);
    return k ? this.#get(k) : undefined;
  }

  async consume(id) {
    const entry = store.get(key(this.name, id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    remove(key(this.name, id));
  }

  async revokeByGrantId(grantId) {
    const keys = grantIndex.get(grantId);
    if (!keys) return;
    const prefix = `${this.name}:`;
    for (const k of [...keys]) {
      if (k.startsWith(prefix)) remove(k);
    }
    if (keys.size === 0) grantIndex.delete(grantId);
  }
}

/** Direct access for the test controls and the protected API (not used by oidc-provider). */
export function rawFind(model, id) {
  const entry = live(store.get(key(model, id)));
  return entry ? entry.payload : undefined;
}
