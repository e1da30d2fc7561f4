"""The client-side rate limit of CloudTrail LookupEvents: calls spaced per key, and the keys of
accounts that are gone (or idle) are forgotten, so account churn does not grow it for ever."""

from __future__ import annotations

from exporter.aws.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_calls_for_one_key_are_spaced_and_other_keys_do_not_wait():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.wait(("111111111111", "us-east-1"))
    limiter.wait(("222222222222", "us-east-1"))
    assert clock.slept == [0.5, 1.0]  # the first call goes at once; the other account not held
    clock.now += 5
    limiter.wait(("111111111111", "us-east-1"))
    assert clock.slept == [0.5, 1.0]  # its slot long past: no wait


def test_keys_of_accounts_no_longer_calling_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, clock=clock, sleep=clock.sleep)
    for number in range(100_000):  # 100,000 accounts come and go, one call each, 10 ms apart
        limiter.wait((f"{number:012d}", "us-east-1"))
        clock.now += 0.01
    assert len(limiter) < 1_000  # only keys whose next slot is still ahead can matter
    assert clock.slept == []
