"""Projects (of one account and region) and one project: its datasets, its models, and the
actions the AWS console offers on them."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from fakerek.api.errors import ResourceInUse
from fakerek.api.sigv4 import Scope
from fakerek.api.wire import JsonObject
from fakerek.domain import arns
from fakerek.operations import inventory
from fakerek.operations.versions import DELETABLE
from fakerek.web import current
from fakerek.web.console import api
from fakerek.web.console.web import back_to, blueprint, done

PAGE = 25


def chosen_scope() -> Scope:
    """The selector's scope (`?scope=<account>:<region>`, then remembered), the one remembered,
    or the settings' account and region."""
    account, _, region = request.args.get("scope", "").partition(":")
    named = api.scope_named(account, region)
    if named is not None:
        session["scope"] = list(named)
        return named
    remembered = session.get("scope")
    if isinstance(remembered, list) and len(remembered) == 2:
        found = api.scope_named(*remembered)
        if found is not None:
            return found
    return api.default_scope()


def scope_choices(chosen: Scope) -> list[Scope]:
    services = current()
    held = inventory.scopes(services)
    return sorted({chosen, api.default_scope(), *(Scope(*pair) for pair in held)})


# The projects page's Features filter: its value → DescribeProjects' Features.
FEATURES = {
    "CUSTOM_LABELS": ["CUSTOM_LABELS"],
    "CONTENT_MODERATION": ["CONTENT_MODERATION"],
    "ALL": ["CUSTOM_LABELS", "CONTENT_MODERATION"],
}
FEATURE_NAMES = {"CUSTOM_LABELS": "Custom Labels", "CONTENT_MODERATION": "Custom Moderation"}


@blueprint.get("/")
def projects() -> ResponseReturnValue:
    scope = chosen_scope()
    features = request.args.get("features", "CUSTOM_LABELS")
    if features not in FEATURES:
        features = "CUSTOM_LABELS"
    params: JsonObject = {"MaxResults": PAGE, "Features": FEATURES[features]}
    if request.args.get("token"):
        params["NextToken"] = request.args["token"]
    found = api.call(scope, "DescribeProjects", params)
    descriptions = found["ProjectDescriptions"]
    counts = inventory.version_counts(current(), [p["ProjectArn"] for p in descriptions])
    rows = []
    for project in descriptions:
        arn = project["ProjectArn"]
        newest = None
        if counts.get(arn):
            versions = api.call(
                scope, "DescribeProjectVersions", {"ProjectArn": arn, "MaxResults": 1}
            )["ProjectVersionDescriptions"]
            newest = versions[0] if versions else None
        rows.append(
            {
                "project": project,
                "name": arns.of(arn).project,
                "datasets": {d["DatasetType"]: d for d in project["Datasets"]},
                "models": counts.get(arn, 0),
                "newest": newest,
                "newest_name": arns.of(newest["ProjectVersionArn"]).name if newest else None,
            }
        )
    return render_template(
        "console/projects.html",
        scope=scope,
        choices=scope_choices(scope),
        rows=rows,
        next_token=found.get("NextToken"),
        features=features,
        feature_names=FEATURE_NAMES,
    )


@blueprint.post("/projects")
def create_project() -> ResponseReturnValue:
    scope = api.scope_named(request.form.get("account"), request.form.get("region"))
    scope = scope or api.default_scope()
    name = request.form.get("name", "").strip()
    params: JsonObject = {"ProjectName": name}
    if request.form.get("feature") == "CONTENT_MODERATION":
        params["Feature"] = "CONTENT_MODERATION"
        params["AutoUpdate"] = request.form.get("auto_update", "ENABLED")
    arn = api.call(scope, "CreateProject", params)["ProjectArn"]
    return done(f"Project {name} created.", url_for("console.project", arn=arn))


@blueprint.post("/projects/delete")
def delete_project() -> ResponseReturnValue:
    """As the AWS console does: delete the project's datasets and models, then the project."""
    arn = request.form["arn"]
    scope = api.scope_of(arn)
    project = api.project_of(arn)
    models = [v for v in _all_versions(scope, arn) if v["Status"] != "DELETING"]
    busy = [arns.of(v["ProjectVersionArn"]).name for v in models if v["Status"] not in DELETABLE]
    if busy:  # refuse before deleting anything
        raise ResourceInUse(
            f"Model {', '.join(busy)} is training, starting, running or stopping: "
            "stop it (or wait for it) before deleting the project."
        )
    for version in models:
        api.call(scope, "DeleteProjectVersion", {"ProjectVersionArn": version["ProjectVersionArn"]})
    for dataset in project["Datasets"]:
        api.call(scope, "DeleteDataset", {"DatasetArn": dataset["DatasetArn"]})
    target = url_for("console.projects", scope=f"{scope.account}:{scope.region}")
    try:
        api.call(scope, "DeleteProject", {"ProjectArn": arn})
    except ResourceInUse:  # realistic timing: the datasets and models are still being deleted
        return done(
            "The project's datasets and models are being deleted; delete the project once they "
            "are gone.",
            url_for("console.project", arn=arn),
        )
    return done(f"Project {arns.of(arn).project} is being deleted.", target)


def _all_versions(scope: Scope, arn: str) -> list[JsonObject]:
    params = {"ProjectArn": arn, "MaxResults": 100}
    return [
        version
        for page in api.pages(scope, "DescribeProjectVersions", params)
        for version in page["ProjectVersionDescriptions"]
    ]


def default_version_name(project_name: str) -> str:
    """The name the AWS console gives a new model: `<project>.<YYYY-MM-DDTHH.MM.SS>`."""
    return f"{project_name}.{dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H.%M.%S')}"


@blueprint.get("/project")
def project() -> ResponseReturnValue:
    arn = request.args.get("arn", "")
    scope = api.scope_of(arn)
    description = api.project_of(arn)
    name = arns.of(arn).project
    datasets = {}
    for metadata in description["Datasets"]:
        described = api.call(scope, "DescribeDataset", {"DatasetArn": metadata["DatasetArn"]})
        datasets[metadata["DatasetType"]] = {**metadata, **described["DatasetDescription"]}
    params: JsonObject = {"ProjectArn": arn, "MaxResults": PAGE}
    if request.args.get("token"):
        params["NextToken"] = request.args["token"]
    found = api.call(scope, "DescribeProjectVersions", params)
    models = [
        {**v, "Name": arns.of(v["ProjectVersionArn"]).name}
        for v in found["ProjectVersionDescriptions"]
    ]
    output = _output_default(models)
    if description["Feature"] == "CONTENT_MODERATION":
        return render_template(
            "console/adapter_project.html",
            scope=scope,
            arn=arn,
            name=name,
            project=description,
            adapters=models,
            next_token=found.get("NextToken"),
            version_name=default_version_name(name),
            output=output,
        )
    copyable = _copyable_datasets(scope, arn)
    return render_template(
        "console/project.html",
        scope=scope,
        arn=arn,
        name=name,
        datasets=datasets,
        models=models,
        next_token=found.get("NextToken"),
        copyable=copyable,
        version_name=default_version_name(name),
        output=output,
    )


def _copyable_datasets(scope: Scope, project_arn: str) -> list[dict[str, str]]:
    """Datasets of the scope's projects (first 100 projects) that CreateDataset could copy."""
    out = []
    found = api.call(scope, "DescribeProjects", {"MaxResults": 100})
    for project in found["ProjectDescriptions"]:
        for dataset in project["Datasets"]:
            if dataset["Status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED"):
                label = f"{arns.of(project['ProjectArn']).project} / {dataset['DatasetType']}"
                out.append({"arn": dataset["DatasetArn"], "label": label})
    return out


def _output_default(models: list[JsonObject]) -> dict[str, str]:
    """The newest model's output location: where the next one most likely goes too."""
    for model in models:
        config = model.get("OutputConfig") or {}
        if config.get("S3Bucket"):
            return {"bucket": config["S3Bucket"], "prefix": config.get("S3KeyPrefix", "")}
    return {"bucket": "", "prefix": ""}


@blueprint.post("/models")
def train_model() -> ResponseReturnValue:
    arn = request.form["project"]
    scope = api.scope_of(arn)
    params: JsonObject = {
        "ProjectArn": arn,
        "VersionName": request.form.get("name", "").strip(),
        "OutputConfig": {
            "S3Bucket": request.form.get("bucket", "").strip(),
            "S3KeyPrefix": request.form.get("prefix", "").strip(),
        },
    }
    if request.form.get("description", "").strip():
        params["VersionDescription"] = request.form["description"].strip()
    version = api.call(scope, "CreateProjectVersion", params)["ProjectVersionArn"]
    target = back_to(url_for("console.project", arn=arn))
    return done(f"Training of model {arns.of(version).name} started.", target)
