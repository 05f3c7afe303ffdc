"""Fixtures for scrutin's black-box integration tests (standard library only).

Importing this package from a test file: put tests/integration on sys.path, then
`from harness import ...`. See server.py (the real binary), target.py (the system under test,
own or shared), credentials.py (registry and Luhn), http.py (the client).
"""

from .credentials import (  # noqa: F401
    Registry, Voter, VoterPool, bad_checksum, dashed, luhn_check_digit, luhn_valid, random_code,
    spaced, unregistered_credential, unregistered_nas)
from .client import Client, KeepAlive, Response  # noqa: F401
from .server import (  # noqa: F401
    NO_CLIENT_LIMITS, Electorate, HarnessError, LawSpec, Server, find_binary, free_port, parse_rfc3339, read_env_file, run,
    standard_ballot, write_laws)
from .target import FINAL_STATUSES, SNAKE_RE, UUID_RE, Target  # noqa: F401
