"""The moderation taxonomy and adapter (Custom Moderation) manifests: lines, validation, the
auto-split, and `fakerek manifest` on adapter manifests, as a user runs it."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from test_manifest_tools import lines_of, tool

from fakerek.domain import moderation, taxonomy
from fakerek.manifests import adapters

BUCKET = "adapter-images"


def line(name: str, *labels: str, bucket: str = BUCKET) -> str:
    return json.dumps(
        {
            "source-ref": f"s3://{bucket}/{name}",
            adapters.GROUND_TRUTH: {adapters.LABELS: [{"Name": label} for label in labels]},
        }
    )


def picture(width: int, height: int, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 60)).save(out, kind)
    return out.getvalue()


# -- the taxonomy ---------------------------------------------------------------------------------


def test_the_shipped_taxonomy_has_three_levels_and_every_parent():
    tax = taxonomy.current()
    assert tax.version == "7.0"
    assert (len(tax.names(1)), len(tax.names(2)), len(tax.names(3))) == (10, 20, 22)
    assert tax.names(1)[:2] == ["Explicit", "Non-Explicit Nudity of Intimate parts and Kissing"]
    assert [c.name for c in tax.chain("Smoking")] == [
        "Smoking",
        "Drugs & Tobacco Paraphernalia & Use",
        "Drugs & Tobacco",
    ]
    assert [c.level for c in tax.chain("Smoking")] == [3, 2, 1]
    assert tax.chain("Gambling") == [taxonomy.Category("Gambling", "", 1)]
    assert tax.top_level("Middle Finger") == "Rude Gestures"
    for name in tax.names():
        chain = tax.chain(name)
        assert chain[-1].level == 1 and chain[-1].parent == ""
        assert [c.level for c in chain] == list(range(len(chain), 0, -1))


def test_expansion_gives_ancestors_their_most_confident_descendant():
    tax = taxonomy.current()
    found = tax.expand({"Smoking": 99.4, "Pills": 70.0, "Weapons": 40.0})
    assert found["Drugs & Tobacco"] == 99.4  # the larger of its two chains
    assert found["Products"] == 70.0 and found["Violence"] == 40.0
    labels = [d.as_label() for d in tax.detected(found, 50)]
    assert labels[:3] == [  # the guide's sample order: L3, L2, L1 at equal confidence
        {
            "Confidence": 99.4,
            "Name": "Smoking",
            "ParentName": "Drugs & Tobacco Paraphernalia & Use",
            "TaxonomyLevel": 3,
        },  # noqa: E501
        {
            "Confidence": 99.4,
            "Name": "Drugs & Tobacco Paraphernalia & Use",
            "ParentName": "Drugs & Tobacco",
            "TaxonomyLevel": 2,
        },  # noqa: E501
        {"Confidence": 99.4, "Name": "Drugs & Tobacco", "ParentName": "", "TaxonomyLevel": 1},
    ]
    assert [label["Name"] for label in labels[3:]] == ["Pills", "Products"]  # Violence < 50


@pytest.mark.parametrize(
    "document, message",
    [
        ({"labels": []}, "version"),
        ({"version": "1", "labels": [{"name": "A", "parent": "B", "level": 2}]}, "unknown parent"),
        ({"version": "1", "labels": [{"name": "A", "parent": "", "level": 2}]}, "level 2"),
        (
            {
                "version": "1",
                "labels": [
                    {"name": "A", "parent": "", "level": 1},
                    {"name": "A", "parent": "", "level": 1},
                ],
            },
            "twice",
        ),
        ({"version": "1", "labels": [{"name": "A", "parent": "", "level": 4}]}, "level 1-3"),
    ],
)
def test_a_damaged_taxonomy_is_refused(document, message):
    with pytest.raises(taxonomy.TaxonomyError, match=message):
        taxonomy.parse(document)


def test_an_adapter_answer_replaces_the_base_model_for_its_categories():
    tax = taxonomy.current()
    base = tax.expand({"Smoking": 90.0, "Weapons": 80.0})
    merged = moderation.merged(tax, base, {"Drugs & Tobacco": 20.0, "Alcohol": 75.0})
    assert merged["Drugs & Tobacco"] == 20.0
    assert merged["Smoking"] == 20.0  # kept, but no surer than its top-level category
    assert merged["Alcohol"] == 75.0 and "Alcohol Use" not in merged
    assert merged["Weapons"] == 80.0 and merged["Violence"] == 80.0  # untrained: the base's


# -- one line -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, codes, outcome",
    [
        (line("a.jpg", "Violence", "Alcohol"), [], "valid"),
        (line("a.jpg"), [], "valid"),  # no unsafe content: a safe image
        (line("a.jpg", "Smoking"), ["WARNING_MODERATION_LABEL_NOT_TOP_LEVEL"], "valid"),
        (line("a.jpg", "Rude Gesture"), ["ERROR_INVALID_MODERATION_LABEL"], "invalid"),
        ('{"source-ref": "s3://bkt/a.jpg"}', ["WARNING_UNANNOTATED_RECORD"], "ignored"),
        ('{"source-ref": "s3://bkt/a.jpg", "x": 1}', ["ERROR_NO_LABEL_ATTRIBUTES"], "invalid"),
        ('{"content-moderation-groundtruth": {}}', ["ERROR_MISSING_SOURCE_REF"], "invalid"),
        ('{"source-ref": "b/a.jpg"}', ["ERROR_INVALID_SOURCE_REF_FORMAT"], "invalid"),
        ("[1]", ["ERROR_INVALID_JSON_LINE"], "invalid"),
        (
            '{"source-ref": "s3://bkt/a.jpg", "content-moderation-groundtruth": []}',
            ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"],
            "invalid",
        ),  # fmt: skip
        (
            '{"source-ref": "s3://bkt/a.jpg", "content-moderation-groundtruth": '
            '{"ModerationLabels": [{"Name": 3}]}}',
            ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"],
            "invalid",
        ),  # fmt: skip
    ],
)
def test_line_codes(text, codes, outcome):
    checked = adapters.check_line(text, 1, taxonomy.current())
    assert [f.code for f in checked.findings] == codes
    assert checked.outcome == outcome


def test_finer_names_count_as_their_top_level_category():
    checked = adapters.check_line(line("a.jpg", "Middle Finger", "Pills"), 1, taxonomy.current())
    assert checked.labels == {"Rude Gestures", "Drugs & Tobacco"}
    assert checked.findings[0].message == (
        "The label Middle Finger is not a top-level moderation category; the adapter learns it "
        "as Rude Gestures."
    )


# -- validation -----------------------------------------------------------------------------------


def validate(train: list[str], test: list[str] | None, **options) -> adapters.AdapterValidation:
    return adapters.validate(train, test, taxonomy.current(), fetch=None, **options)


def test_auto_split_moves_a_seeded_fifth_of_the_valid_lines():
    train = [line(f"{i}.jpg", "Violence" if i % 2 else "Alcohol") for i in range(20)]
    train += [line(f"safe{i}.jpg") for i in range(10)] + ["not json"]
    first = validate(train, None)
    assert first.first_error is None
    assert len(first.testing.lines) == 6 and first.testing.count("valid") == 6
    assert {"Violence", "Alcohol"} <= set().union(*(x.labels for x in first.testing.lines))
    again = validate(list(reversed(train)), None)
    assert {x.source_ref for x in again.testing.lines} == {
        x.source_ref for x in first.testing.lines
    }
    assert first.training.count("invalid") == 1  # invalid lines stay on the training side
    assert validate([line("a.jpg", "Violence"), line("b.jpg")], None).testing.count("valid") == 1
    alone = validate([line("a.jpg", "Violence")], None)
    assert alone.first_error == "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT"


@pytest.mark.parametrize(
    "train, test, code",
    [
        ([line("a.jpg"), line("b.jpg")], [line("c.jpg")], "ERROR_MANIFEST_TOO_FEW_LABELS"),
        (
            ['{"source-ref": "s3://bkt/a.jpg"}'],
            [line("c.jpg")],
            "ERROR_INSUFFICIENT_TRAINING_IMAGES",
        ),
        (
            [line("a.jpg", "Violence")],
            ['{"source-ref": "s3://bkt/a.jpg"}'],
            "ERROR_INSUFFICIENT_TESTING_IMAGES",
        ),  # fmt: skip
        (
            [line("a.jpg", "Violence"), line("b.jpg", bucket="other-bucket")],
            [line("c.jpg")],
            "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS",
        ),  # fmt: skip
        (
            [line("a.jpg", "Violence")] * 2,
            [line("c.jpg")],
            "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
        ),
    ],
)
def test_terminal_errors(train, test, code):
    assert validate(train, test).first_error == code


def test_training_images_are_limited():
    train = [line(f"{i}.jpg", "Violence") for i in range(6)]
    limits = adapters.AdapterLimits(max_training_images=5)
    assert validate(train, [line("t.jpg")], limits=limits).first_error == (
        "ERROR_TOO_MANY_TRAINING_IMAGES"
    )


def test_images_are_fetched_and_checked():
    stored = {
        (BUCKET, "ok.png"): picture(100, 90),
        (BUCKET, "wide.jpg"): picture(2000, 81, "JPEG"),  # any aspect ratio
        (BUCKET, "tiny.png"): picture(79, 200),
        (BUCKET, "text.png"): b"not an image",
    }
    names = ["ok.png", "wide.jpg", "tiny.png", "text.png", "missing.png"]
    train = [line(name, "Violence") for name in names]
    checked = adapters.validate(
        train, [line("ok.png")], taxonomy.current(), fetch=lambda b, k: stored.get((b, k))
    )
    outcomes = [(x.outcome, [f.code for f in x.findings]) for x in checked.training.lines]
    assert outcomes == [
        ("valid", []),
        ("valid", []),
        ("invalid", ["ERROR_INVALID_IMAGE"]),
        ("invalid", ["ERROR_INVALID_IMAGE"]),
        ("invalid", ["ERROR_INVALID_IMAGE"]),
    ]
    assert checked.first_error == "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
    nothing = adapters.validate(
        [line("missing.png", "Violence")],
        [line("x.png")],
        taxonomy.current(),
        fetch=lambda b, k: None,
    )
    assert nothing.first_error == "ERROR_FAILED_IMAGES_S3_COPY"
    denied = adapters.validate(
        train, [line("ok.png")], taxonomy.current(), fetch=stored.get, denied=frozenset({BUCKET})
    )
    assert denied.first_error == "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET"


def test_the_summary_has_the_bulk_analysis_shape():
    checked = validate([line("a.jpg", "Violence"), line("b.jpg", "Nope")], [line("c.jpg")])
    summary = checked.summary()
    assert summary["statistics"] == {
        "total-json-lines": 3,
        "valid-json-lines": 2,
        "invalid-json-lines": 1,
    }
    assert summary["errors"] == [
        {
            "dataset": "training",
            "line-number": 2,
            "source-ref": f"s3://{BUCKET}/b.jpg",
            "code": "ERROR_INVALID_MODERATION_LABEL",
            "message": "The label Nope is not a moderation label.",
        }
    ]
    assert summary["failure"]["code"] == "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"


# -- fakerek manifest -----------------------------------------------------------------------------


def test_validate_knows_an_adapter_manifest_and_hints_at_near_names(tmp_path):
    path = tmp_path / "adapter.manifest"
    path.write_text(
        "\n".join(
            [line("1.jpg", "Rude Gesture"), line("2.jpg", "Rude Gestures", "Pills"), line("3.jpg")]
        )
        + "\n"
    )
    result = tool("validate", str(path), "--no-images")
    assert (
        "line 1: ERROR_INVALID_MODERATION_LABEL: The label Rude Gesture is not a moderation "
        "label. (did you mean 'Rude Gestures'?)"
    ) in result.stdout
    assert "line 2: WARNING_MODERATION_LABEL_NOT_TOP_LEVEL: The label Pills" in result.stdout
    assert "3 lines: 2 valid, 1 invalid, 0 ignored" in result.stdout
    assert "terminal: ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in result.stdout
    assert result.returncode == 1
    forced = tool("validate", str(path), "--no-images", "--feature", "CUSTOM_LABELS")
    assert "ERROR_NO_LABEL_ATTRIBUTES" in forced.stdout  # read as Custom Labels, it has none
    imported = tool("validate", str(path), "--no-images", "--context", "import")
    assert imported.returncode == 2 and "adapters have no datasets" in imported.stderr


def test_validate_an_adapter_manifest_with_its_images(fakerek, tmp_path):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="big.jpg", Body=picture(5000, 3000, "JPEG"))
    s3.put_object(Bucket=BUCKET, Key="small.png", Body=picture(60, 60))
    lines = [line("big.jpg", "Violence"), line("small.png")]
    s3.put_object(Bucket=BUCKET, Key="m/adapter.manifest", Body="\n".join(lines) + "\n")
    result = tool("validate", f"s3://{BUCKET}/m/adapter.manifest", endpoint=fakerek.endpoint)
    assert "line 2: ERROR_INVALID_IMAGE: " in result.stdout  # under 80 pixels
    assert "line 1:" not in result.stdout  # 5000 pixels wide: within Rekognition Image's limits
    assert result.returncode == 1


def test_from_csv_writes_an_adapter_manifest(tmp_path):
    (tmp_path / "mod.csv").write_text("a.jpg,Smoking,Alcohol\nb.jpg\nc.jpg,Violence,Violence\n")
    result = tool(
        "from-csv", "mod.csv", "--s3-path", f"s3://{BUCKET}/", "--feature",
        "CONTENT_MODERATION", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = lines_of(tmp_path / "mod.manifest")
    assert written[1] == {
        "source-ref": f"s3://{BUCKET}/b.jpg",
        adapters.GROUND_TRUTH: {"ModerationLabels": []},
    }  # noqa: E501
    assert written[2][adapters.GROUND_TRUTH] == {"ModerationLabels": [{"Name": "Violence"}]}
    checked = tool("validate", str(tmp_path / "mod.manifest"), "--no-images")
    assert checked.returncode == 0 and "3 lines: 3 valid" in checked.stdout
    (tmp_path / "bad.csv").write_text("a.jpg,Violenc\n")
    bad = tool(
        "from-csv", "bad.csv", "--s3-path", "s3://bkt/", "--feature", "CONTENT_MODERATION",
        cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2 and "did you mean 'Violence'" in bad.stderr
