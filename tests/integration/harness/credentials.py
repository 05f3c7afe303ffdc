"""Credentials for black-box tests: the Luhn rule, the registry CSV, and unregistered credentials.

A credential is what a voter types: a NAS (9 digits, Luhn-valid) and a 6-character code. The
registry CSV (`nas,code,law_id`, one row per voter per law) written by `scrutin voters generate`
tells the tests which credentials are eligible; everything else here builds credentials that are
well formed but not in the registry, or deliberately malformed ones.

Nothing in this module is thread-safe unless it says so.
"""

import csv
import dataclasses
import random
import string
import threading

CODE_ALPHABET = string.ascii_uppercase + string.digits


def luhn_valid(digits: str) -> bool:
    """True when `digits` (ASCII digits only) passes the Luhn check."""
    if not digits or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` Luhn-valid."""
    for c in "0123456789":
        if luhn_valid(payload + c):
            return c
    raise AssertionError("unreachable: some digit always completes a Luhn number")


def bad_checksum(nas: str) -> str:
    """`nas` with its last digit changed so that the Luhn check fails (still 9 digits)."""
    good = nas[-1]
    for c in "0123456789":
        if c != good and not luhn_valid(nas[:-1] + c):
            return nas[:-1] + c
    raise AssertionError("unreachable")


def spaced(nas: str) -> str:
    """'046454286' -> '046 454 286'."""
    return f"{nas[0:3]} {nas[3:6]} {nas[6:9]}"


def dashed(nas: str) -> str:
    """'046454286' -> '046-454-286'."""
    return f"{nas[0:3]}-{nas[3:6]}-{nas[6:9]}"


def random_code(rng: random.Random) -> str:
    return "".join(rng.choice(CODE_ALPHABET) for _ in range(6))


@dataclasses.dataclass(frozen=True)
class Voter:
    """One registry entry: normalised NAS (9 digits), upper-case code, the laws it may vote on."""

    nas: str
    code: str
    laws: frozenset


class Registry:
    """The voter registry as the tests see it (read once from the CSV)."""

    def __init__(self, voters):
        self.voters = list(voters)
        self.nas_set = {v.nas for v in self.voters}
        self.credential_set = {(v.nas, v.code) for v in self.voters}

    @classmethod
    def load(cls, path):
        by_nas = {}
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or [n.strip() for n in reader.fieldnames] != [
                "nas",
                "code",
                "law_id",
            ]:
                raise ValueError(f"{path}: header is not nas,code,law_id: {reader.fieldnames}")
            for row in reader:
                nas = row["nas"].strip().replace(" ", "").replace("-", "")
                code = row["code"].strip().upper()
                law = row["law_id"].strip()
                entry = by_nas.setdefault(nas, [code, set()])
                if entry[0] != code:
                    raise ValueError(f"{path}: one NAS has two different codes")
                entry[1].add(law)
        return cls(Voter(nas, code, frozenset(laws)) for nas, (code, laws) in by_nas.items())

    def is_registered(self, nas, code, law=None):
        if law is None:
            return (nas, code) in self.credential_set
        return any(v.nas == nas and v.code == code and law in v.laws for v in self.voters)


class VoterPool:
    """Hands out registry voters never handed out before by this pool. Thread-safe.

    With `shuffle_seed` the order is a random permutation, so that several runs against one shared
    server rarely pick the same voters (a voter used by an earlier run shows up as `duplicate`).
    """

    def __init__(self, registry: Registry, shuffle_seed=None, predicate=None):
        voters = [v for v in registry.voters if predicate is None or predicate(v)]
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(voters)
        self._voters = voters
        self._next = 0
        self._lock = threading.Lock()

    def take(self, laws=()) -> Voter:
        """The next unused voter registered for every law in `laws`; raises when none is left."""
        with self._lock:
            while self._next < len(self._voters):
                v = self._voters[self._next]
                self._next += 1
                if all(law in v.laws for law in laws):
                    return v
        raise RuntimeError("voter pool exhausted: generate a larger electorate")

    def remaining(self) -> int:
        with self._lock:
            return len(self._voters) - self._next


def unregistered_nas(registry: Registry, rng: random.Random) -> str:
    """A Luhn-valid 9-digit NAS that no voter of `registry` has."""
    for _ in range(10000):
        payload = "".join(rng.choice("0123456789") for _ in range(8))
        nas = payload + luhn_check_digit(payload)
        if nas not in registry.nas_set:
            return nas
    raise AssertionError("could not find an unregistered NAS")


def unregistered_credential(registry: Registry, rng: random.Random):
    """(nas, code): well formed, Luhn-valid, not in the registry."""
    return unregistered_nas(registry, rng), random_code(rng)
