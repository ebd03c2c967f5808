#!/usr/bin/env bash
# The OAuth 2.1 authorization code flow with PKCE, from a terminal, for a public app (no secret):
#   SPACES_URL=https://spaces.example.org CLIENT_ID=spaces_app_... REDIRECT_URI=http://127.0.0.1:8976/callback \
#   SCOPE='read spaces:write' bash oauth-pkce.sh
# Needs curl, openssl and jq. It prints the URL to open in a browser, then reads the URL the
# browser was sent back to (paste it from the address bar), and goes on with curl: code → tokens,
# a call, a refresh, a revocation. Every line it prints is JSON.
set -euo pipefail
: "${SPACES_URL:?}" "${CLIENT_ID:?}" "${REDIRECT_URI:?}"
SCOPE=${SCOPE:-read}
uri() { jq -rn --arg v "$1" '$v | @uri'; }

# 1. PKCE: a random code_verifier (64 characters) and its S256 challenge; a random state.
code_verifier=$(openssl rand -base64 48 | tr '+/' '-_' | tr -d '=\n')
code_challenge=$(printf %s "$code_verifier" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
state=$(openssl rand -hex 16)

# 2. The user signs in if needed and allows the app on the consent page.
authorize="$SPACES_URL/oauth/authorize?response_type=code&client_id=$(uri "$CLIENT_ID")&redirect_uri=$(uri "$REDIRECT_URI")&scope=$(uri "$SCOPE")&state=$state&code_challenge=$code_challenge&code_challenge_method=S256"
jq -nc --arg url "$authorize" '{open: $url}'
read -r -p 'The URL you were sent to: ' callback

# 3. The redirect carries code and state (or error=access_denied). Check the state first.
param() { printf %s "${callback#*\?}" | tr '&' '\n' | sed -n "s/^$1=//p"; }
[ "$(param state)" = "$state" ] || { jq -nc '{error: "state mismatch"}'; exit 1; }
code=$(param code)
[ -n "$code" ] || { jq -nc --arg e "$(param error)" '{error: $e}'; exit 1; }

# 4. The code for tokens (confidential apps add -d client_secret=... or -u "$CLIENT_ID:$CLIENT_SECRET").
tokens=$(curl -sS "$SPACES_URL/oauth/token" \
  -d grant_type=authorization_code \
  --data-urlencode "code=$code" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" \
  --data-urlencode "client_id=$CLIENT_ID" \
  --data-urlencode "code_verifier=$code_verifier")
jq -c '{step: "token", token_type, expires_in, scope, error}' <<<"$tokens"
access_token=$(jq -r .access_token <<<"$tokens")
refresh_token=$(jq -r .refresh_token <<<"$tokens")

# 5. Call the API with the access token.
viewer() {
  curl -sS "$SPACES_URL/graphql" -H 'content-type: application/json' -H "authorization: Bearer $access_token" \
    -d '{"query":"{ viewer { handle } }"}' | jq -c --arg step "$1" '{step: $step, handle: .data.viewer.handle, error: .errors[0].extensions.code}'
}
viewer viewer

# 6. Refresh (access tokens live an hour). The answer has a new refresh token: keep it, the old
#    one no longer works (and using it again would revoke everything this grant issued).
tokens=$(curl -sS "$SPACES_URL/oauth/token" \
  -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$refresh_token" \
  --data-urlencode "client_id=$CLIENT_ID")
jq -c '{step: "refresh", scope, rotated: (.refresh_token != $old), error}' --arg old "$refresh_token" <<<"$tokens"
access_token=$(jq -r .access_token <<<"$tokens")
refresh_token=$(jq -r .refresh_token <<<"$tokens")
viewer "viewer after refresh"

# 7. Revoke (the user signs out of the app): the refresh token and the access tokens it issued.
status=$(curl -sS -o /dev/null -w '%{http_code}' "$SPACES_URL/oauth/revoke" \
  --data-urlencode "token=$refresh_token" -d token_type_hint=refresh_token --data-urlencode "client_id=$CLIENT_ID")
jq -nc --argjson status "$status" '{step: "revoke", status: $status}'
viewer "viewer after revoke"
