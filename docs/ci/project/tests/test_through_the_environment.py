"""The stand-in for a user's suite in docs/ci.md's recipes: plain boto3 clients, no endpoint in
the code; the recipe's environment (AWS_ENDPOINT_URL and the rest) sends them to fakerek."""

from __future__ import annotations

import json
import os
import urllib.request
from importlib.metadata import version

import boto3


def test_the_sdk_reaches_fakerek_through_the_environment():
    rekognition, s3 = boto3.client("rekognition"), boto3.client("s3")
    s3.create_bucket(Bucket="ci-recipe")
    s3.put_object(Bucket="ci-recipe", Key="hello.txt", Body=b"hello")
    assert s3.get_object(Bucket="ci-recipe", Key="hello.txt")["Body"].read() == b"hello"
    arn = rekognition.create_project(ProjectName="ci-recipe")["ProjectArn"]
    assert arn.startswith("arn:aws:rekognition:us-east-1:")
    projects = rekognition.describe_projects()["ProjectDescriptions"]
    assert [project["ProjectArn"] for project in projects] == [arn]


def test_the_server_is_the_installed_fakerek():
    with urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/_fakerek/health") as answer:
        assert json.load(answer) == {"status": "ok", "version": version("fakerek")}
