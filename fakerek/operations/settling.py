"""How a call settles: the background work it waits for before it runs, in instant timing.

Instant timing promises that the next call sees asynchronous work (an import, a training, a
model's loading) finished. Each operation declares in the registry which work that is, as one of
four kinds: the resources its request names (`Named`), the datasets or models of the project it
names (`Children`), the datasets of the caller's projects it lists (`ListedDatasets`), or a
dataset with the models of its project (`DatasetAndModels`, for DeleteDataset).
`settle` waits for those jobs (at most `max_wait_seconds` in all) and gives the call a `now` read
after the wait. In realistic timing nothing waits: statuses last for their delays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fakerek.domain import arns
from fakerek.operations.context import Ctx

Covers = Callable[[str], bool]  # whether the job on a resource ARN is one to wait for


@dataclass(frozen=True)
class Named:
    """The resources at these request members: `DatasetArn`, `DatasetSource.DatasetArn`,
    `Datasets[].Arn` (the `Arn` of each item)."""

    members: tuple[str, ...]

    def covers(self, ctx: Ctx, params: dict[str, Any]) -> Covers | None:
        wanted = {arn for member in self.members for arn in _values(params, member.split("."))}
        return wanted.__contains__ if wanted else None


@dataclass(frozen=True)
class Children:
    """The datasets (or models) of the project at `project`; of the models, only those named in
    the `names` member when the request gives it."""

    kind: Literal["dataset", "version"]
    names: str | None = None
    project: str = "ProjectArn"

    def covers(self, ctx: Ctx, params: dict[str, Any]) -> Covers | None:
        project = params[self.project]
        parsed = arns.parse(project)
        if parsed is None or parsed.kind != "project":
            return None  # the operation answers that no such project exists
        prefix = arns.children_prefix(project, self.kind)
        names = params.get(self.names) if self.names else None
        if names:
            prefixes = tuple(f"{prefix}{name}/" for name in names)
            return lambda key: key.startswith(prefixes)
        return lambda key: key.startswith(prefix)


@dataclass(frozen=True)
class ListedDatasets:
    """The datasets of the caller's projects, of those named in the `names` member if given (a
    description of a project lists its datasets' statuses)."""

    names: str = "ProjectNames"

    def covers(self, ctx: Ctx, params: dict[str, Any]) -> Covers:
        scope = arns.projects_prefix(ctx.region, ctx.account)
        names = set(params.get(self.names) or ())

        def covers(key: str) -> bool:
            if not key.startswith(scope):
                return False
            project, _, rest = key[len(scope) :].partition("/")
            return rest.startswith("dataset/") and (not names or project in names)

        return covers


@dataclass(frozen=True)
class DatasetAndModels:
    """The dataset at `DatasetArn` and the models of its project: a dataset cannot go while a
    model of the project trains from it, and instant timing promises that training ended."""

    def covers(self, ctx: Ctx, params: dict[str, Any]) -> Covers | None:
        dataset = params["DatasetArn"]
        parsed = arns.parse(dataset)
        if parsed is None or parsed.kind != "dataset":
            return None  # the operation answers that no such dataset exists
        models = f"{arns.projects_prefix(parsed.region, parsed.account)}{parsed.project}/version/"
        return lambda key: key == dataset or key.startswith(models)


Settles = Named | Children | ListedDatasets | DatasetAndModels


def named(*members: str) -> Named:
    return Named(members)


def settle(ctx: Ctx, settles: Settles | None, params: dict[str, Any]) -> Ctx:
    """In instant timing, wait for the work `settles` covers; the ctx to run the call with.

    Its `now` is read again after the wait, even when there was none: a job that ended between
    the call's first reading and now wrote its end with a later reading, and the call must find
    it ended (a start that failed while the describe was arriving showed STARTING)."""
    if settles is None or ctx.settings.timing != "instant":
        return ctx
    jobs = ctx.services.jobs
    if not jobs.idle():
        covers = settles.covers(ctx, params)
        if covers is not None:
            jobs.wait_for(covers, ctx.settings.max_wait_seconds)
    now_ms = ctx.services.clock.now_ms()
    return ctx if now_ms == ctx.now_ms else dataclasses.replace(ctx, now_ms=now_ms)


def _values(value: Any, path: list[str]) -> Iterator[str]:
    """The strings at a member path of validated parameters (`[]` after a name: each item)."""
    if not path:
        if isinstance(value, str):
            yield value
        return
    name, each = path[0].removesuffix("[]"), path[0].endswith("[]")
    found = value.get(name) if isinstance(value, dict) else None
    if found is None:
        return
    for item in found if each else [found]:
        yield from _values(item, path[1:])
