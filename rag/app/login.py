"""The chat page's password check, which makes guessing slow: pauses after failed logins.

`LoginThrottle(user, password)` is the callable the page checks logins with. The first
`free` failures in a row are checked as they come; after that each failure closes logins
for a pause that doubles (1 s, 2 s, 4 s, ... up to `longest`), and an attempt during a pause
is refused unchecked, even with the right password. A success ends the series. So 30 quick
guesses test 5 passwords, not 30, and each further one costs a longer wait.

The state is one for the whole page: the framework's login callback does not say who is
asking, so someone guessing also delays the rightful user's next login, by at most
`longest` seconds after the guessing stops. Readers already logged in are not affected.

Does not: know client addresses, keep anything on disk, or sleep.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable


class LoginThrottle:
    """`throttle(user, password) -> bool`: the right pair, checked only outside a pause.

    >>> check = LoginThrottle("ann", "s3cret")
    >>> check("ann", "s3cret"), check("ann", "guess")
    (True, False)
    """

    def __init__(self, user: str, password: str, *, free: int = 5, longest: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self._user, self._password = user.encode("utf-8"), password.encode("utf-8")
        self.free, self.longest, self.clock = free, longest, clock
        self.failures = 0
        self.closed_until = 0.0
        self._lock = threading.Lock()

    def __call__(self, user: str, password: str) -> bool:
        with self._lock:
            now = self.clock()
            if now < self.closed_until:
                return False  # during a pause: not even checked
            ok = (hmac.compare_digest(str(user).encode("utf-8"), self._user)
                  & hmac.compare_digest(str(password).encode("utf-8"), self._password))
            if ok:
                self.failures, self.closed_until = 0, 0.0
                return True
            self.failures += 1
            if self.failures >= self.free:
                pause = min(self.longest, 2.0 ** (self.failures - self.free))
                self.closed_until = now + pause
            return False

    @property
    def wait(self) -> float:
        """Seconds until the next attempt is checked (0 when it would be now)."""
        return max(0.0, self.closed_until - self.clock())
