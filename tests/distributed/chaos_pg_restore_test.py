#!/usr/bin/python3
"""PostgreSQL lost and restored from a base backup plus archived WAL (issue 12 item 6;
docs/operations.md, "Durability and backups"). scripts/cluster archives PostgreSQL's WAL into
DIR/pg-archive; `scripts/cluster backup DIR` takes a base backup, `scripts/cluster restore DIR`
rebuilds the data directory from it and replays the archive to its end.

The story: votes; base backup; more votes (only in the WAL archive now); every PostgreSQL process
killed -9 and its data directory deleted, as a lost disk would; votes while it is gone (the api
and the validators do not need it: 202 and final statuses go on, the aggregator waits); restore;
votes after. At the end every 202 is counted exactly once (harness_cluster.Ledger.check: one
audit row per request, accepted_credentials == voted set from the audit == Redis claims, one
ballot per accepted vote under the request's receipt, tallies == ballots == accepted votes sent,
and the api's /results).

Why the test waits for the archiver instead of calling pg_switch_wal(): WAL is archived a segment
at a time, so what the current, unfinished segment holds exists only in pg_wal until the segment
is switched. In a real loss nobody gets to run pg_switch_wal() first; archive_timeout (60 s by
default in scripts/cluster, 3 s here) is what bounds the loss, and that bound is what this test
exercises: it waits until the segment holding the last commit before the loss has been archived
by the timer (at most archive_timeout plus the copy), then destroys the data.
"""

import os
import random
import shutil
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness_cluster as hc  # noqa: E402
from harness_cluster import harness  # noqa: E402

ARCHIVE_TIMEOUT_S = 3
C = None
BOOK = None


def setUpModule():
    global C, BOOK
    C = hc.module_cluster("pg-restore", validators=2, voters=400,
                          cluster_args=["--pg-archive-timeout", str(ARCHIVE_TIMEOUT_S)])
    BOOK = hc.VoteBook(C)


def mixed_votes(rng, n, repeat_of=()):
    """Fresh voters, repeats of earlier accepted voters (`repeat_of`, a list of Casts) and
    ineligible credentials."""
    triples = hc.fresh_votes(BOOK, n, rng=rng)
    repeats = list(repeat_of)
    for i in range(3, n, 6):
        if repeats:
            c = repeats.pop()
            triples[i] = (harness.Voter(c.nas, c.code, frozenset((c.law_id,))), c.law_id,
                          rng.choice(("oui", "non")))
    for i in range(5, n, 11):
        nas, code = harness.unregistered_credential(C.electorate.registry, rng)
        triples[i] = (harness.Voter(nas, code, frozenset()), triples[i][1], "non")
    return triples


def postgres_pids(postmaster):
    """The postmaster and its children (backends, walwriter, archiver, ...)."""
    out = [postmaster]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster and fields[0] not in ("Z", "X"):
            out.append(int(entry))
    return out


def cast_all(rng, n, repeat_of=(), threads=8, allow_503=False):
    casts = hc.send_parallel(BOOK, mixed_votes(rng, n, repeat_of), threads=threads)
    ok = (202, 503) if allow_503 else (202,)
    bad = [c.http_status for c in casts if c.http_status not in ok]
    if bad:
        raise AssertionError(f"votes answered {bad} (expected {ok})")
    return casts


class PgRestoreTest(unittest.TestCase):
    def test_backup_lose_everything_restore(self):
        rng = random.Random()
        ledger = hc.Ledger(C)

        # 1. Votes, then the base backup.
        a = cast_all(rng, 60)
        BOOK.wait_all_final(30)
        ledger.wait_settled(BOOK, 30)
        out = C._script([hc.CLUSTER_SCRIPT, "backup", C.dir], 120)
        backup = [ln.split("=", 1)[1] for ln in out.splitlines() if ln.startswith("BACKUP=")]
        self.assertEqual(len(backup), 1, out)
        self.assertTrue(os.path.isfile(os.path.join(backup[0], "backup_label")), backup)
        at_backup = int(C.pg("SELECT count(*) FROM vote_audit")[0][0])
        hc.log(f"base backup {backup[0]} with {at_backup} audit rows")

        # 2. More votes (repeats of voters accepted before the backup among them): from here on
        #    only the archived WAL holds them.
        acc_a = [c for c in a if c.final["status"] == "accepted"]
        b = cast_all(rng, 60, repeat_of=acc_a[:8])
        BOOK.wait_all_final(30)
        ledger.wait_settled(BOOK, 30)
        before_loss = ledger.read()
        self.assertGreater(len(before_loss.audit), at_backup)

        # 3. Wait until the segment holding the last commit is archived (archive_timeout).
        last_lsn, last_file = C.pg("SELECT pg_current_wal_lsn(), "
                                   "pg_walfile_name(pg_current_wal_lsn())")[0]
        t0 = time.monotonic()
        while True:
            archived, failed = C.pg("SELECT coalesce(last_archived_wal, ''), failed_count "
                                    "FROM pg_stat_archiver")[0]
            self.assertEqual(failed, "0", "archive_command failed (see DIR/pg/postgres.log)")
            if archived[:24] >= last_file:
                break
            self.assertLess(time.monotonic() - t0, ARCHIVE_TIMEOUT_S + 20,
                            f"segment {last_file} (last commit at {last_lsn}) not archived "
                            f"{ARCHIVE_TIMEOUT_S + 20}s later (last archived: {archived!r})")
            time.sleep(0.2)
        hc.log(f"last commit at {last_lsn} ({last_file}) archived "
               f"{time.monotonic() - t0:.1f}s later")

        # 4. Lose PostgreSQL: every process killed -9, the data directory deleted.
        postmaster = int(C.env["PG_PID"])
        pids = postgres_pids(postmaster)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            self.assertTrue(hc.wait_gone(pid, 10), f"postgres pid {pid} survived SIGKILL")
        data = C.env["PG_DATA"]
        shutil.rmtree(data)
        self.assertFalse(os.path.exists(data))
        hc.log(f"PostgreSQL killed -9 ({len(pids)} processes) and {data} deleted")

        # 5. Votes while PostgreSQL is gone: the api and validators go on without it (a 503 is
        #    allowed: nothing recorded; every 202 must be counted after the restore).
        during = cast_all(rng, 30, repeat_of=acc_a[8:12], threads=4, allow_503=True)
        hc.log(f"answers while PostgreSQL was gone: "
               f"{sorted(collections_count(c.http_status for c in during).items())}")

        # 6. Restore: base backup + archived WAL, same port, same role and password.
        t0 = time.monotonic()
        C._script([hc.CLUSTER_SCRIPT, "restore", C.dir], 660)
        C.reload_env()
        self.assertNotEqual(int(C.env["PG_PID"]), postmaster)
        hc.log(f"restored in {time.monotonic() - t0:.1f}s")
        self.assertEqual(C.pg("SELECT pg_is_in_recovery()")[0][0], "f")
        timeline = int(C.pg("SELECT timeline_id FROM pg_control_checkpoint()")[0][0])
        self.assertGreater(timeline, 1, "a restore ends on a new timeline")

        # Everything committed before the loss is back (the aggregator may add more already).
        restored = ledger.read()
        missing = set(before_loss.audit) - set(restored.audit)
        self.assertEqual(missing, set(), f"{len(missing)} of {len(before_loss.audit)} audit rows "
                                         "committed before the loss are not restored")
        for r, law in before_loss.receipts.items():
            self.assertEqual(restored.receipts.get(r), law, f"receipt {r} not restored")
        for key, n in before_loss.ballots.items():
            self.assertGreaterEqual(restored.ballots[key], n, f"ballots {key} not restored")

        # 7. Votes after the restore, repeats of accepted voters among them.
        c = cast_all(rng, 60, repeat_of=acc_a[12:20])
        BOOK.wait_all_final(60)
        for x in BOOK.accepted_202():
            self.assertIn(x.final["status"], hc.FINAL)

        # 8. Every 202 counted exactly once.
        snap = ledger.wait_settled(BOOK, 90)
        summary = ledger.check(BOOK, snap, unanswered_may_exist=any(
            x.http_status != 202 for x in during))
        ledger.check_api_results(BOOK, snap)
        self.assertGreater(summary["duplicate"], 0)
        hc.log(f"stores exact after losing PostgreSQL and restoring it: {summary}; "
               f"{len(b) + len(during) + len(c)} votes cast after the base backup")

        # 9. The restored server archives again (its new timeline's segments).
        archived_tl = [f for f in os.listdir(os.path.join(C.dir, "pg-archive"))
                       if f.startswith(f"{timeline:08X}")]
        self.assertTrue(archived_tl, f"nothing of timeline {timeline} archived after the restore")


def collections_count(it):
    out = {}
    for x in it:
        out[x] = out.get(x, 0) + 1
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
