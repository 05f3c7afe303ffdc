#!/usr/bin/env python3
# Fills PostgreSQL with a synthetic record for the `scrutin ledger rebuild` benchmark
# (bench/RESULTS.md "ledger rebuild"): every 10th digest of the eligibility database accepted
# (random claim tag), every 100th with one duplicate attempt, a request status per attempt.
# Usage: bench/ledger_rebuild_record.py DB_DIR(json shards: hashgen --format json) PG_URL
# The schema must exist (the aggregator creates it; or the SQL of src/adapters/postgres/pg_schema.cpp).
import glob, json, os, subprocess, sys, secrets, io
db, pg = sys.argv[1], sys.argv[2]
digests = []
for f in sorted(glob.glob(os.path.join(db, "hash_database_*.json"))):
    digests += json.load(open(f))["hashes"]
claims, audit, status = io.StringIO(), io.StringIO(), io.StringIO()
n = 0
for i in range(0, len(digests), 10):
    d = digests[i]
    claims.write(f"{d}\tL2025-001\t{secrets.token_hex(16)}\n")
    attempts = 2 if i % 100 == 0 else 1
    for a in range(1, attempts + 1):
        st = "accepted" if a == 1 else "duplicate"
        audit.write(f"{secrets.token_hex(16)}\t{d}\tL2025-001\t{st}\t{a}\t2026-12-01 10:00:00+00\n")
        status.write(f"{secrets.token_hex(16)}\tL2025-001\t{st}\t{a}\t2027-01-01 00:00:00+00\n")
    n += 1
def copy(table, cols, buf):
    subprocess.run(["psql", "-X", "-q", pg, "-c", f"COPY {table} ({cols}) FROM STDIN"],
                   input=buf.getvalue().encode(), check=True)
copy("accepted_credentials", "vote_hash, law_id, claim_tag", claims)
copy("vote_audit", 'request_key, vote_hash, law_id, status, attempt_count, "timestamp"', audit)
copy("request_status", "status_key, law_id, status, attempt_count, expires_at", status)
print(f"{n} claims from {len(digests)} digests")
