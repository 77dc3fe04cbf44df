# scripts/sign_request.py: sign a paymesh request body (HMAC-SHA256), stdlib only.
# usage: python3 scripts/sign_request.py '{"out_trade_no": "...", ...}'   (reads app_id/secret from .paymesh/dev.json)
import hashlib
import hmac
import json
import sys
import time

with open(sys.argv[2] if len(sys.argv) > 2 else ".paymesh/dev.json") as fh:
    dev = json.load(fh)
app = dev["demo_app"]
body = {
    "app_id": app["app_id"],
    **json.loads(sys.argv[1]),
    "timestamp": int(time.time()),
    "sign_type": "HMAC-SHA256",
}


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
print(json.dumps(body, ensure_ascii=False))
