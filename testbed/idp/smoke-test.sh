#!/usr/bin/env bash
# End-to-end check of the testbed IdP with nothing but curl and node: starts its own server
# (unless SESAME_IDP_ISSUER points at a running one), drives every grant, the devInteractions
# pages and the extras, and prints one line per check. Exit status 0 = all passed.
#
#   ./smoke-test.sh            # from testbed/idp (runs `npm ci` first if node_modules is missing)
set -uo pipefail
cd "$(dirname "$0")"

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); printf 'ok    %s\n' "$1"; }
bad() { FAIL=$((FAIL + 1)); printf 'FAIL  %s\n      %s\n' "$1" "${2:-}"; }
check() { # check NAME COMMAND...  (passes when the command succeeds)
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}

# ---------------------------------------------------------------- helpers
j() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let o;try{o=JSON.parse(s)}catch{console.log("");return}const v=process.argv[1].split(".").reduce((a,k)=>a==null?a:a[k],o);console.log(v==null?"":typeof v==="object"?JSON.stringify(v):v)})' "$1"; }
claims() { node -e 'console.log(Buffer.from(process.argv[1].split(".")[1],"base64url").toString())' "$1"; }
header() { node -e 'console.log(Buffer.from(process.argv[1].split(".")[0],"base64url").toString())' "$1"; }
loc() { grep -i '^location:' | tr -d '\r' | cut -d' ' -f2; }
abs() { case "$1" in http*) echo "$1" ;; *) echo "$I$1" ;; esac; }
field() { grep -o "name=\"$1\" value=\"[^\"]*\"" | head -1 | sed 's/.*value="//;s/"$//'; }
eq() { [ "$1" = "$2" ] || { echo "expected [$2], got [$1]"; return 1; }; }
has() { case "$1" in *"$2"*) return 0 ;; *) echo "[$2] not in [$1]"; return 1 ;; esac; }
pkce() { CV=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))'); CC=$(node -e 'console.log(require("crypto").createHash("sha256").update(process.argv[1]).digest("base64url"))' "$CV"); }

# Walks devInteractions pages (login, consent) like a browser; prints the final redirect
# ("REDIRECT <url>") or the final page's <h1>.
interact() {
  local cj=$1 l=$2 page next i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    case "$l" in
      */interaction/* | /interaction/*)
        page=$(curl -s -c "$cj" -b "$cj" "$(abs "$l")")
        if echo "$page" | grep -q 'name="prompt" value="login"'; then
          l=$(curl -s -i -c "$cj" -b "$cj" -d prompt=login --data-urlencode "login=${LOGIN:-alice}" --data-urlencode "password=${PASSWORD:-wonderland}" "$(abs "$l")" | loc)
        else
          l=$(curl -s -i -c "$cj" -b "$cj" -d prompt=consent "$(abs "$l")" | loc)
        fi
        ;;
      "$I"/auth/* | /auth/* | "$I"/device/* | /device/*)
        local r
        r=$(curl -s -i -c "$cj" -b "$cj" "$(abs "$l")")
        next=$(echo "$r" | loc)
        if [ -n "$next" ]; then l=$next; else echo "$r" | grep -o '<h1>[^<]*</h1>'; return; fi
        ;;
      *) echo "REDIRECT $l"; return ;;
    esac
  done
}

# ---------------------------------------------------------------- server
if [ -n "${SESAME_IDP_ISSUER:-}" ]; then
  I=$SESAME_IDP_ISSUER
else
  [ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund --loglevel=error
  OUT=$(mktemp)
  ERR=$(mktemp)
  SESAME_IDP_KEEP_ALIVE=1 node server.mjs </dev/null >"$OUT" 2>"$ERR" &
  SERVER_PID=$!
  trap 'kill $SERVER_PID 2>/dev/null; rm -f "$OUT" "$ERR"' EXIT
  for _ in $(seq 100); do [ -s "$OUT" ] && break; sleep 0.1; done
  I=$(j issuer <"$OUT")
  [ -n "$I" ] || { echo "server did not start:"; cat "$ERR"; exit 1; }
fi
echo "issuer: $I"
DEVICE=urn:ietf:params:oauth:grant-type:device_code
TE=urn:ietf:params:oauth:grant-type:token-exchange
UMA=urn:ietf:params:oauth:grant-type:uma-ticket
ATT=urn:ietf:params:oauth:token-type:access_token

# ---------------------------------------------------------------- discovery
D=$(curl -s "$I/.well-known/openid-configuration")
check "discovery: issuer" eq "$(echo "$D" | j issuer)" "$I"
check "discovery: token-exchange + uma + password grants" has "$(echo "$D" | j grant_types_supported)" "uma-ticket"
check "discovery: S256 only" eq "$(echo "$D" | j code_challenge_methods_supported)" '["S256"]'
check "RFC 8414 metadata" eq "$(curl -s "$I/.well-known/oauth-authorization-server" | j token_endpoint)" "$I/token"
check "uma2-configuration" eq "$(curl -s "$I/.well-known/uma2-configuration" | j token_endpoint)" "$I/token"
check "jwks has one RS256 key" eq "$(curl -s "$I/jwks" | j keys.0.alg)" "RS256"

# ---------------------------------------------------------------- client credentials
T=$(curl -s -u m2m-basic:m2m-basic-secret -d grant_type=client_credentials -d scope=api "$I/token")
AT=$(echo "$T" | j access_token)
check "client_credentials (basic): JWT with aud=/api" eq "$(claims "$AT" | j aud)" "$I/api"
check "client_credentials: typ at+jwt" eq "$(header "$AT" | j typ)" "at+jwt"
check "client_credentials (post)" eq "$(curl -s -d grant_type=client_credentials -d client_id=m2m-post -d client_secret=m2m-post-secret "$I/token" | j token_type)" "Bearer"
check "basic client using post is refused" eq "$(curl -s -d grant_type=client_credentials -d client_id=m2m-basic -d client_secret=m2m-basic-secret "$I/token" | j error)" "invalid_client"
check "wrong secret is refused" eq "$(curl -s -u m2m-basic:nope -d grant_type=client_credentials "$I/token" | j error)" "invalid_client"
ASSERTION=$(node --input-type=module -e '
  import { SignJWT, importPKCS8 } from "jose";
  import { readFileSync } from "node:fs";
  const key = await importPKCS8(readFileSync("fixtures/m2m-jwt.key.pem", "utf8"), "RS256");
  console.log(await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "m2m-jwt-test-key-1" })
    .setIssuer("m2m-jwt").setSubject("m2m-jwt").setAudience(process.argv[1]).setJti(crypto.randomUUID())
    .setIssuedAt().setExpirationTime("60s").sign(key));' "$I/token")
check "client_credentials (private_key_jwt)" eq "$(curl -s -d grant_type=client_credentials -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer --data-urlencode "client_assertion=$ASSERTION" "$I/token" | j token_type)" "Bearer"
check "private_key_jwt assertion replay refused" eq "$(curl -s -d grant_type=client_credentials -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer --data-urlencode "client_assertion=$ASSERTION" "$I/token" | j error)" "invalid_client"
check "audience (non-URI) becomes aud" eq "$(claims "$(curl -s -u m2m-basic:m2m-basic-secret -d grant_type=client_credentials -d audience=ods "$I/token" | j access_token)" | j aud)" "ods"

# ---------------------------------------------------------------- protected API
check "/api/whoami with JWT" eq "$(curl -s "$I/api/whoami" -H "Authorization: Bearer $AT" | j client_id)" "m2m-basic"
check "/api/whoami without token: 401 + Bearer challenge" has "$(curl -s -i "$I/api/whoami" | tr -d '\r')" 'www-authenticate: Bearer realm="sesame-testbed"'
check "/api/whoami bad token: invalid_token" has "$(curl -s -i "$I/api/whoami" -H 'Authorization: Bearer x.y.z' | tr -d '\r')" 'error="invalid_token"'
check "/api/require-scope/admin: 403 insufficient_scope" has "$(curl -s -i "$I/api/require-scope/admin" -H "Authorization: Bearer $AT" | tr -d '\r')" 'error="insufficient_scope"'

# ---------------------------------------------------------------- introspection / revocation
check "introspection (rs-client): active" eq "$(curl -s -u rs-client:rs-secret -d "token=$AT" "$I/token/introspection" | j active)" "true"
check "introspection of another client's token (m2m-post): inactive" eq "$(curl -s -d client_id=m2m-post -d client_secret=m2m-post-secret -d "token=$AT" "$I/token/introspection" | j active)" "false"
check "revocation: 200" eq "$(curl -s -o /dev/null -w '%{http_code}' -u m2m-basic:m2m-basic-secret -d "token=$AT" "$I/token/revocation")" "200"
check "introspection after revocation: inactive" eq "$(curl -s -u rs-client:rs-secret -d "token=$AT" "$I/token/introspection" | j active)" "false"
check "/api rejects the revoked token" eq "$(curl -s -o /dev/null -w '%{http_code}' "$I/api/whoami" -H "Authorization: Bearer $AT")" "401"

# ---------------------------------------------------------------- password + refresh rotation
T=$(curl -s -u password-client:password-secret -d grant_type=password -d username=alice -d password=wonderland "$I/token")
RT=$(echo "$T" | j refresh_token)
check "password grant: id_token sub alice" eq "$(claims "$(echo "$T" | j id_token)" | j sub)" "alice"
check "password grant: wrong password" eq "$(curl -s -u password-client:password-secret -d grant_type=password -d username=alice -d password=nope "$I/token" | j error)" "invalid_grant"
check "userinfo with the JWT access token" eq "$(curl -s "$I/me" -H "Authorization: Bearer $(echo "$T" | j access_token)" | j email)" "alice@example.com"
T2=$(curl -s -u password-client:password-secret -d grant_type=refresh_token -d "refresh_token=$RT" "$I/token")
RT2=$(echo "$T2" | j refresh_token)
check "refresh: new access token" eq "$(echo "$T2" | j token_type)" "Bearer"
check "refresh: rotated refresh token" test -n "$RT2" -a "$RT2" != "$RT"
check "refresh: old refresh token refused" eq "$(curl -s -u password-client:password-secret -d grant_type=refresh_token -d "refresh_token=$RT" "$I/token" | j error)" "invalid_grant"
check "refresh: reuse revoked the whole grant" eq "$(curl -s -u password-client:password-secret -d grant_type=refresh_token -d "refresh_token=$RT2" "$I/token" | j error)" "invalid_grant"

# ---------------------------------------------------------------- token exchange
T=$(curl -s -u password-client:password-secret -d grant_type=password -d username=alice -d password=wonderland "$I/token")
X=$(curl -s -u exchange-client:exchange-secret -d grant_type=$TE -d "subject_token=$(echo "$T" | j access_token)" -d subject_token_type=$ATT -d audience=https://ods.example.com -d scope=api "$I/token")
check "token exchange: issued_token_type" eq "$(echo "$X" | j issued_token_type)" "$ATT"
check "token exchange: aud + sub" eq "$(claims "$(echo "$X" | j access_token)" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);console.log(o.aud+" "+o.sub+" "+o.scope)})')" "https://ods.example.com alice api"
check "token exchange: bad subject_token" eq "$(curl -s -u exchange-client:exchange-secret -d grant_type=$TE -d subject_token=nope -d subject_token_type=$ATT "$I/token" | j error)" "invalid_request"

# ---------------------------------------------------------------- device flow
DA=$(curl -s -d client_id=sesame-cli -d "scope=openid profile email offline_access api" "$I/device/auth")
DC=$(echo "$DA" | j device_code)
check "device authorization: verification_uri_complete" eq "$(echo "$DA" | j verification_uri_complete)" "$I/device?user_code=$(echo "$DA" | j user_code)"
check "device: authorization_pending" eq "$(curl -s -d grant_type=$DEVICE -d client_id=sesame-cli -d "device_code=$DC" "$I/token" | j error)" "authorization_pending"
check "device: polling too fast gives slow_down" eq "$(curl -s -d grant_type=$DEVICE -d client_id=sesame-cli -d "device_code=$DC" "$I/token" | j error)" "slow_down"
CJ=$(mktemp)
P=$(curl -s -c "$CJ" -b "$CJ" "$(echo "$DA" | j verification_uri_complete)") # auto-submitting form
P=$(curl -s -c "$CJ" -b "$CJ" -d "xsrf=$(echo "$P" | field xsrf)" -d "user_code=$(echo "$P" | field user_code)" "$I/device")
check "device: confirm page" has "$P" "op.deviceConfirmForm"
L=$(curl -s -i -c "$CJ" -b "$CJ" -d "xsrf=$(echo "$P" | field xsrf)" -d "user_code=$(echo "$DA" | j user_code)" -d confirm=yes "$I/device" | loc)
check "device: login + consent + success page" eq "$(interact "$CJ" "$L")" "<h1>Sign-in Success</h1>"
sleep 1
DT=$(curl -s -d grant_type=$DEVICE -d client_id=sesame-cli -d "device_code=$DC" "$I/token")
check "device: tokens" eq "$(claims "$(echo "$DT" | j access_token)" | j sub)" "alice"
check "device: refresh (public client)" eq "$(curl -s -d grant_type=refresh_token -d client_id=sesame-cli -d "refresh_token=$(echo "$DT" | j refresh_token)" "$I/token" | j token_type)" "Bearer"
rm -f "$CJ"

# ---------------------------------------------------------------- authorization code + PKCE
CJ=$(mktemp)
pkce
RU=http://127.0.0.1:54321/callback
L=$(curl -s -i -c "$CJ" -b "$CJ" "$I/auth?client_id=sesame-cli&response_type=code&redirect_uri=$RU&scope=openid%20profile%20email%20offline_access%20api&state=st1&nonce=n1&code_challenge=$CC&code_challenge_method=S256" | loc)
P=$(curl -s -i -c "$CJ" -b "$CJ" -d prompt=login -d login=alice -d password=wrong "$(abs "$L")" | loc)
check "login page refuses a wrong password" has "$(curl -s -c "$CJ" -b "$CJ" "$(abs "$P")")" "Invalid username or password"
R=$(interact "$CJ" "$L")
check "auth code: redirect to any loopback port with code, state, iss" has "$R" "REDIRECT $RU?code="
CODE=$(echo "$R" | grep -o 'code=[^&]*' | cut -d= -f2)
T=$(curl -s -d grant_type=authorization_code -d client_id=sesame-cli -d "code=$CODE" -d "redirect_uri=$RU" -d "code_verifier=$CV" "$I/token")
check "auth code: id_token nonce" eq "$(claims "$(echo "$T" | j id_token)" | j nonce)" "n1"
check "auth code: refresh token issued" test -n "$(echo "$T" | j refresh_token)"
check "auth code: access token for /api" eq "$(curl -s "$I/api/whoami" -H "Authorization: Bearer $(echo "$T" | j access_token)" | j sub)" "alice"
check "auth code: PKCE required for public client" has "$(curl -s -i "$I/auth?client_id=sesame-cli&response_type=code&redirect_uri=$RU&scope=openid&state=x" | loc)" "error=invalid_request"
IDT=$(echo "$T" | j id_token)
P=$(curl -s -c "$CJ" -b "$CJ" -G "$I/session/end" --data-urlencode "id_token_hint=$IDT" --data-urlencode post_logout_redirect_uri=http://127.0.0.1:5555/logout -d state=bye)
check "end session: redirect to post_logout_redirect_uri" eq "$(curl -s -i -c "$CJ" -b "$CJ" -d "xsrf=$(echo "$P" | field xsrf)" -d logout=yes "$I/session/end/confirm" | loc)" "http://127.0.0.1:5555/logout?state=bye"
rm -f "$CJ"

CJ=$(mktemp)
L=$(curl -s -i -c "$CJ" -b "$CJ" "$I/auth?client_id=sesame-web&response_type=code&redirect_uri=http://127.0.0.1:4444/callback&scope=openid&state=w&audience=https://ods.example.com" | loc)
CODE=$(interact "$CJ" "$L" | grep -o 'code=[^&]*' | cut -d= -f2)
T=$(curl -s -u sesame-web:sesame-web-secret -d grant_type=authorization_code -d "code=$CODE" -d redirect_uri=http://127.0.0.1:4444/callback "$I/token")
check "auth code (confidential, audience at /auth)" eq "$(claims "$(echo "$T" | j access_token)" | j aud)" "https://ods.example.com"
rm -f "$CJ"

# ---------------------------------------------------------------- registration
R=$(curl -s -H 'content-type: application/json' -d '{"grant_types":["client_credentials"],"response_types":[],"redirect_uris":[]}' "$I/reg")
check "dynamic registration + client_credentials with the new client" eq "$(curl -s -u "$(echo "$R" | j client_id):$(echo "$R" | j client_secret)" -d grant_type=client_credentials "$I/token" | j token_type)" "Bearer"

# ---------------------------------------------------------------- UMA
TK=$(curl -s -d "{\"resource\":\"$I/api/uma/doc\",\"scopes\":[\"read\"]}" "$I/test/uma/ticket" | j ticket)
RPT=$(curl -s -u uma-client:uma-secret -d grant_type=$UMA -d "ticket=$TK" "$I/token" | j access_token)
check "uma: RPT with permissions" eq "$(claims "$RPT" | j authorization.permissions.0.rsid)" "$I/api/uma/doc"
check "uma: RPT accepted by /api/uma/doc" eq "$(curl -s "$I/api/uma/doc" -H "Authorization: Bearer $RPT" | j sub)" "uma-client"
check "uma: /api/uma without RPT gives UMA challenge" has "$(curl -s -i "$I/api/uma/doc" | tr -d '\r')" 'www-authenticate: UMA realm="sesame-testbed", as_uri="'
check "uma: unknown ticket -> 403 request_denied" eq "$(curl -s -w ' %{http_code}' -u uma-client:uma-secret -d grant_type=$UMA -d ticket=nope "$I/token" | sed 's/^.*"error":"\([^"]*\)".* \([0-9]*\)$/\1 \2/')" "request_denied 403"
TK=$(curl -s -d '{"resource":"r","scopes":["read"],"need_info":true}' "$I/test/uma/ticket" | j ticket)
N=$(curl -s -u uma-client:uma-secret -d grant_type=$UMA -d "ticket=$TK" "$I/token")
check "uma: need_info with a new ticket" eq "$(echo "$N" | j error) $(echo "$N" | j redirect_user)" "need_info true"
check "uma: the new ticket works" eq "$(curl -s -u uma-client:uma-secret -d grant_type=$UMA -d "ticket=$(echo "$N" | j ticket)" "$I/token" | j token_type)" "Bearer"

# ---------------------------------------------------------------- WebFinger
REL=http://openid.net/specs/connect/1.0/issuer
check "webfinger" eq "$(curl -s "$I/.well-known/webfinger?resource=https://ods.example.com/api&rel=$REL" | j links.0.href)" "$I"
check "webfinger with prefix /ods" eq "$(curl -s "$I/ods/.well-known/webfinger?resource=acct:alice@example.com&rel=$REL" | j subject)" "acct:alice@example.com"
check "webfinger content type" has "$(curl -s -i "$I/.well-known/webfinger?resource=x" | tr -d '\r')" "content-type: application/jrd+json"
check "webfinger without resource: 400" eq "$(curl -s -o /dev/null -w '%{http_code}' "$I/.well-known/webfinger")" "400"

# ---------------------------------------------------------------- key rotation + stats
T=$(curl -s -u m2m-basic:m2m-basic-secret -d grant_type=client_credentials "$I/token" | j access_token)
KID=$(curl -s -X POST "$I/test/rotate-keys" | j kid)
check "rotation: JWKS lists new kid first and the old one" eq "$(curl -s "$I/jwks" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const k=JSON.parse(s).keys;console.log(k.length+" "+k[0].kid)})')" "2 $KID"
check "rotation: new tokens use the new kid" eq "$(header "$(curl -s -u m2m-basic:m2m-basic-secret -d grant_type=client_credentials "$I/token" | j access_token)" | j kid)" "$KID"
check "rotation: old token still valid" eq "$(curl -s -o /dev/null -w '%{http_code}' "$I/api/whoami" -H "Authorization: Bearer $T")" "200"
check "stats: counts by grant_type" test "$(curl -s "$I/test/stats" | j token.client_credentials)" -ge 5
curl -s -X POST "$I/test/stats/reset" >/dev/null
check "stats reset" eq "$(curl -s "$I/test/stats" | j token_total)" "0"

echo "passed: $PASS, failed: $FAIL"
[ "$FAIL" -eq 0 ]
