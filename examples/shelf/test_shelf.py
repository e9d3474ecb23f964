"""The shelf application's tests: each runs against a freshly reset fakerek (the `fakerek`
fixture), so every test creates what it needs, under the same names, without seeing another's."""

from __future__ import annotations

import pytest
from conftest import photo
from shelf import NoRunningModel, labels, running_model


def start(rekognition, trained) -> None:
    rekognition.start_project_version(ProjectVersionArn=trained["model"], MinInferenceUnits=1)
    rekognition.get_waiter("project_version_running").wait(
        ProjectArn=trained["project"], VersionNames=["v1"], WaiterConfig={"Delay": 1}
    )


def test_a_project_without_a_running_model_cannot_label(rekognition):
    project = rekognition.create_project(ProjectName="shelf")["ProjectArn"]
    assert running_model(rekognition, project) is None
    with pytest.raises(NoRunningModel):
        labels(rekognition, project, photo("circle", 1000))


def test_the_running_model_labels_what_it_sees(rekognition, trained):
    start(rekognition, trained)
    assert running_model(rekognition, trained["project"]) == trained["model"]
    for shape in ("circle", "square"):
        seen = labels(rekognition, trained["project"], photo(shape, 2000), min_confidence=0)
        assert seen[0] == shape


def test_a_stopped_model_is_not_used(rekognition, trained):
    start(rekognition, trained)
    rekognition.stop_project_version(ProjectVersionArn=trained["model"])
    assert running_model(rekognition, trained["project"]) is None  # STOPPING, then STOPPED


def test_throttling_reaches_the_caller(fakerek, rekognition, trained):
    """fakerek's fault injection: the next DetectCustomLabels is throttled, as AWS may."""
    start(rekognition, trained)
    fakerek.inject_fault("DetectCustomLabels", "ThrottlingException")
    with pytest.raises(rekognition.exceptions.ThrottlingException):
        labels(rekognition, trained["project"], photo("square", 3000))
    assert labels(rekognition, trained["project"], photo("square", 3000), min_confidence=0)
