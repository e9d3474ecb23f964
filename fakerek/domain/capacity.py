"""Inference units of running models: throughput limits, autoscaling, lost units, usage.

Each running model has a token bucket refilled at `in-service units × tps_per_inference_unit`
per second and holding one second's worth (it starts full); a call finding it empty is throttled
(ProvisionedThroughputExceededException). With MaxInferenceUnits set, a throttled call raises the
desired units by one (up to the maximum) and an idle period lowers them by one (down to the
minimum); in-service units follow desired ones after `autoscale_delay_seconds`. A fault can take
units out of service for a while (an Availability Zone lost) without changing the model's Status.
Usage (running hours, inference-unit hours, requests, throttled requests) is what AWS bills on.

Time is the server's one `Clock` (in seconds), which tests stop and move through `/_fakerek/clock`;
its owner (`Services`) resets it. Usage counters live in memory: they restart with fakerek (the
running state itself is stored).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fakerek.api.wire import JsonObject
from fakerek.config import Settings
from fakerek.domain.clock import Clock


@dataclass
class _Model:
    arn: str
    minimum: int
    maximum: int | None
    started: float
    desired: int = 0
    in_service: int = 0
    target_at: float = 0.0  # when in-service reaches desired
    tokens: float = 0.0
    refilled: float = 0.0
    last_throttle: float = 0.0
    lost: list[tuple[int, float]] = field(default_factory=list)  # (units, until)
    unit_seconds: float = 0.0
    accounted: float = 0.0
    requests: int = 0
    throttled: int = 0

    def settle(self, now: float) -> None:
        """Bring units and usage up to `now`, integrating units in service piece by piece
        between the moments they change (a lost unit coming back, a scaling step landing)."""
        moment = self.accounted
        while moment < now:
            changes = [until for _, until in self.lost if moment < until < now]
            if self.in_service != self.desired and moment < self.target_at < now:
                changes.append(self.target_at)
            following = min(changes, default=now)
            self.unit_seconds += self.serving(moment) * (following - moment)
            moment = following
            if self.in_service != self.desired and moment >= self.target_at:
                self.in_service = self.desired
        self.accounted = max(self.accounted, now)
        if self.in_service != self.desired and now >= self.target_at:
            self.in_service = self.desired
        self.lost = [(units, until) for units, until in self.lost if until > now]

    def serving(self, now: float) -> int:
        lost = sum(units for units, until in self.lost if until > now)
        return max(0, self.in_service - lost)


class Capacity:
    def __init__(self, clock: Clock):
        self.clock = clock
        self._models: dict[str, _Model] = {}
        self._lock = threading.Lock()

    def start(self, arn: str, minimum: int, maximum: int | None) -> None:
        now = self.clock.now()
        with self._lock:
            self._models[arn] = _Model(
                arn,
                minimum,
                maximum,
                now,
                desired=minimum,
                in_service=minimum,
                refilled=now,
                accounted=now,
                last_throttle=now,
                tokens=float("inf"),
            )

    def stop(self, arn: str) -> None:
        with self._lock:
            self._models.pop(arn, None)

    def ensure(self, arn: str, minimum: int, maximum: int | None) -> None:
        """A model found running (e.g. after a restart of fakerek) gets a fresh account."""
        with self._lock:
            known = arn in self._models
        if not known:
            self.start(arn, minimum, maximum)

    def admit(self, arn: str, settings: Settings) -> bool:
        """Whether one more call fits the model's throughput now; counts it either way."""
        now = self.clock.now()
        with self._lock:
            model = self._models[arn]
            model.settle(now)
            tps = settings.tps_per_inference_unit
            if tps is None:
                model.requests += 1
                return True
            rate = model.serving(now) * tps
            burst = max(1.0, rate)  # a second's worth of calls, and at least one
            model.tokens = min(burst, model.tokens + (now - model.refilled) * rate)
            model.refilled = now
            if model.tokens >= 1:
                model.tokens -= 1
                model.requests += 1
                self._scale_down(model, now, settings)
                return True
            model.throttled += 1
            model.last_throttle = now
            if model.maximum and model.desired < model.maximum:
                model.desired += 1
                model.target_at = now + settings.autoscale_delay_seconds
                model.settle(now)
            return False

    @staticmethod
    def _scale_down(model: _Model, now: float, settings: Settings) -> None:
        if (
            model.maximum
            and model.desired > model.minimum
            and now - model.last_throttle >= settings.autoscale_idle_seconds
        ):
            model.desired -= 1
            model.target_at = now + settings.autoscale_delay_seconds
            model.last_throttle = now  # the next step down waits a whole idle period again
            model.settle(now)

    def lose_units(self, arn: str, units: int, seconds: float) -> None:
        now = self.clock.now()
        with self._lock:
            model = self._models[arn]
            model.settle(now)
            model.lost.append((units, now + seconds))

    def usage(self) -> list[JsonObject]:
        now = self.clock.now()
        with self._lock:
            out = []
            for model in self._models.values():
                model.settle(now)
                out.append(
                    {
                        "ProjectVersionArn": model.arn,
                        "MinInferenceUnits": model.minimum,
                        "MaxInferenceUnits": model.maximum,
                        "DesiredInferenceUnits": model.desired,
                        "InServiceInferenceUnits": model.serving(now),
                        "RunningHours": round((now - model.started) / 3600, 6),
                        "InferenceUnitHours": round(model.unit_seconds / 3600, 6),
                        "Requests": model.requests,
                        "ThrottledRequests": model.throttled,
                    }
                )
            return out

    def running(self, arn: str) -> bool:
        with self._lock:
            return arn in self._models

    def reset(self) -> None:
        with self._lock:
            self._models.clear()
