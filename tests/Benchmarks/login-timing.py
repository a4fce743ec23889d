#!/usr/bin/env python3
"""Login answer times: a wrong password for an existing account against an email with no account.

Each attempt is that email's first failure, interleaved pairs, against a silo started with Auth__Registration=open:
    python3 tests/Benchmarks/login-timing.py http://127.0.0.1:5099 100
The two should differ too little to tell who has an account (docs/api-keys.md, "Accounts")."""
import json, time, urllib.request, uuid, statistics, sys
base = sys.argv[1]
n = int(sys.argv[2])
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST")
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r: r.read(); code = r.status
    except urllib.error.HTTPError as e: e.read(); code = e.code
    return code, (time.perf_counter() - t) * 1000
existing = []
for i in range(n):
    email = f"t-{uuid.uuid4().hex}@example.test"
    code, _ = post("/api/auth/register", {"email": email, "password": "correct horse battery"})
    assert code == 201, code
    existing.append(email)
# warm up both paths
for i in range(5):
    post("/api/auth/login", {"email": f"w-{uuid.uuid4().hex}@example.test", "password": "wrong password"})
known, unknown = [], []
for i in range(n):  # interleaved, so that drift hits both alike
    c, t = post("/api/auth/login", {"email": existing[i], "password": "wrong password!"}); assert c == 401, c; known.append(t)
    c, t = post("/api/auth/login", {"email": f"n-{uuid.uuid4().hex}@example.test", "password": "wrong password!"}); assert c == 401, c; unknown.append(t)
def q(xs, p): xs = sorted(xs); return xs[min(len(xs) - 1, int(p * len(xs)))]
for name, xs in (("wrong password", known), ("unknown email", unknown)):
    print(f"{name:15} n={len(xs)} mean {statistics.mean(xs):7.1f} ms  p50 {q(xs, .5):7.1f}  p90 {q(xs, .9):7.1f}  stdev {statistics.stdev(xs):5.1f}")
print(f"difference of means {statistics.mean(known) - statistics.mean(unknown):+.1f} ms, of medians {q(known, .5) - q(unknown, .5):+.1f} ms")
