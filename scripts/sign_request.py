# scripts/sign_request.py: sign a paymesh request (HMAC-SHA256), stdlib only.
# usage: python3 scripts/sign_request.py '{"out_trade_no": "...", ...}' [dev.json]
#        python3 scripts/sign_request.py --query '{"out_trade_no": "..."}' [dev.json]
# Reads app_id/secret from .paymesh/dev.json. A body (POST) gets app_id, timestamp, a random
# nonce (8-32 of [A-Za-z0-9], required on mutating requests and signed like every field),
# sign_type and sign, printed as JSON. --query (GET) signs without a nonce and prints the
# URL-encoded query string.
import hashlib
import hmac
import json
import secrets
import sys
import time
import urllib.parse

args = sys.argv[1:]
query = args[:1] == ["--query"]
args = args[1:] if query else args
with open(args[1] if len(args) > 1 else ".paymesh/dev.json") as fh:
    dev = json.load(fh)
app = dev["demo_app"]
body = {"app_id": app["app_id"], **json.loads(args[0]), "timestamp": int(time.time())}
if not query:
    body["nonce"] = secrets.token_hex(8)
body["sign_type"] = "HMAC-SHA256"


def value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return str(v)


canonical = "&".join(
    f"{k}={value(v)}"
    for k, v in sorted(body.items())
    if k != "sign" and v not in ("", 0, False, None, {}, [])
)
body["sign"] = (
    hmac.new(app["secret"].encode(), canonical.encode(), hashlib.sha256).hexdigest().upper()
)
if query:
    print(urllib.parse.urlencode({k: value(v) for k, v in body.items()}))
else:
    print(json.dumps(body, ensure_ascii=False))
