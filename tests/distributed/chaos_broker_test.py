#!/usr/bin/python3
"""Broker outage (docs/architecture.md guarantee 1): while RabbitMQ is stopped (`rabbitmqctl
stop_app`) the api answers 503 with Retry-After to every vote, never 202, and its health is 503;
after `start_app` it recovers by itself (202 again within RECOVERY_S, no restart of any scrutin
process), the votes sent after the recovery are counted, the ones sent before the outage too, and a
voter whose vote got a 503 can vote afterwards (the 503 recorded nothing).
"""

import os
import random
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness_cluster as hc  # noqa: E402
from harness_cluster import harness  # noqa: E402

OUTAGE_S = 6.0  # how long votes are sent against the stopped broker
RECOVERY_S = 30.0  # bound for the api to answer 202 again after start_app

C = None
BOOK = None


def setUpModule():
    global C, BOOK
    C = hc.module_cluster("broker", validators=2, voters=400)
    BOOK = hc.VoteBook(C)


class BrokerOutageTest(unittest.TestCase):
    stopped = False

    def tearDown(self):
        if self.stopped:  # never leave the broker down for the next test
            C.rabbitmqctl("start_app")
            self.stopped = False

    def test_outage_503_then_recovery(self):
        rng = random.Random()
        before = hc.send_parallel(BOOK, hc.fresh_votes(BOOK, 20, rng=rng), threads=4)
        self.assertTrue(all(c.http_status == 202 for c in before),
                        [c.http_status for c in before])
        BOOK.wait_all_final(20)

        t0 = time.monotonic()
        C.rabbitmqctl("stop_app")
        self.stopped = True
        hc.log(f"stop_app took {time.monotonic() - t0:.1f}s")

        # Votes against the stopped broker, from 4 threads, each voter tried once.
        during = []
        lock = threading.Lock()
        deadline = time.monotonic() + OUTAGE_S

        def hammer():
            for _ in range(25):  # bounded: 503s come back fast
                if time.monotonic() >= deadline:
                    break
                voter = BOOK.voter((hc.LAW_A,))
                c = BOOK.send(voter.nas, voter.code, hc.LAW_A, rng.choice(("oui", "non")))
                with lock:
                    during.append((voter, c))
                time.sleep(0.2)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        health = []
        while time.monotonic() < deadline:
            try:
                health.append(BOOK.client(0).get("/api/v1/health", timeout=5).status)
            except Exception:  # noqa: BLE001
                health.append(None)
            time.sleep(0.5)
        for t in threads:
            t.join(60)

        statuses = [c.http_status for _, c in during]
        self.assertGreater(len(during), 10, "too few votes sent during the outage")
        self.assertNotIn(202, statuses, "202 while the broker was stopped (not durable)")
        self.assertEqual(set(statuses), {503},
                         f"every vote during the outage must get 503: {sorted(set(map(str, statuses)))}")
        for _, c in during:
            ra = c.response.header("Retry-After")
            self.assertTrue(ra and ra.strip().isdigit() and int(ra) >= 1,
                            f"503 without a usable Retry-After: {c.response.headers}")
            self.assertEqual(c.response.json().get("error") is not None, True, c.response)
        self.assertTrue(health and all(h == 503 for h in health[1:]),
                        f"health during the outage: {health}")

        C.rabbitmqctl("start_app")
        self.stopped = False
        t_up = time.monotonic()
        # The api recovers by itself: a fresh vote gets 202 within RECOVERY_S.
        first_ok = None
        while time.monotonic() - t_up < RECOVERY_S:
            voter = BOOK.voter((hc.LAW_B,))
            c = BOOK.send(voter.nas, voter.code, hc.LAW_B, "oui")
            if c.http_status == 202:
                first_ok = time.monotonic() - t_up
                break
            self.assertIn(c.http_status, (503, None), c.response)
            time.sleep(0.25)
        self.assertIsNotNone(first_ok, f"the api did not answer 202 within {RECOVERY_S}s of "
                             "start_app")
        hc.log(f"api answered 202 again {first_ok:.1f}s after start_app")
        h_deadline = time.monotonic() + RECOVERY_S
        while BOOK.client(0).get("/api/v1/health").status != 200:
            self.assertLess(time.monotonic(), h_deadline, "health stayed 503 after recovery")
            time.sleep(0.25)

        # The workers reconnect by themselves too: every admin health is 200 again.
        for url in C.admin_urls:
            while harness.Client(url).get("/api/v1/health").status != 200:
                self.assertLess(time.monotonic(), h_deadline,
                                f"{url} health stayed 503 after the broker came back")
                time.sleep(0.25)

        # After the recovery: new voters, and the voters who got a 503 (nothing was recorded
        # for them, so their vote now is their first).
        after = hc.send_parallel(BOOK, hc.fresh_votes(BOOK, 30, rng=rng), threads=6)
        retried = hc.send_parallel(
            BOOK, [(v, hc.LAW_A, "oui") for v, _ in during[:20]], threads=6)
        self.assertTrue(all(c.http_status == 202 for c in after + retried),
                        [c.http_status for c in after + retried])
        BOOK.wait_all_final(40)
        for c in after + retried + before:
            self.assertEqual(c.final["status"], "accepted", c.final)

        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 40)
        summary = ledger.check(BOOK, snap)
        self.assertEqual(summary["unanswered_recorded"], 0)
        ledger.check_api_results(BOOK, snap)
        hc.log(f"broker outage: stores exact: {summary}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
