"""The chat page's password check (`rag.app.login.LoginThrottle`), on a clock the test moves."""

from __future__ import annotations

from rag.app.login import LoginThrottle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_thirty_quick_guesses_test_five_passwords_and_the_right_one_waits():
    clock = Clock()
    check = LoginThrottle("reader", "correct-horse", clock=clock)
    guesses = ["correct-horse" if i == 24 else f"guess-{i}" for i in range(30)]
    assert [check("reader", g) for g in guesses] == [False] * 30  # the 25th came in a pause
    assert check.failures == 5 and check.wait == 1.0
    clock.now += 1.0
    assert check("reader", "correct-horse") and check.failures == 0 and check.wait == 0


def test_pauses_double_up_to_the_longest():
    clock = Clock()
    check = LoginThrottle("u", "p", free=2, longest=8.0, clock=clock)
    pauses = []
    for _ in range(7):
        assert not check("u", "wrong")
        pauses.append(check.wait)
        clock.now += check.wait
    assert pauses == [0.0, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_user_and_password_must_both_match():
    check = LoginThrottle("ann", "s3cret")
    assert not check("bob", "s3cret") and not check("ann", "S3cret")
    assert check("ann", "s3cret")
