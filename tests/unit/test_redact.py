"""The one redaction function: every URL and DSN form that can carry a secret."""

from __future__ import annotations

import pytest

from tasuki._redact import redact

SECRET = "hunter2-PLANTED"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # user:pw@ in the authority, including a raw '@' in the password
        ("postgresql://reader:hunter2-PLANTED@db:5432/dwh", "postgresql://reader:***@db:5432/dwh"),
        ("mysql://root:hunter2-PLANTED@h/src", "mysql://root:***@h/src"),
        ("postgresql://u:hunter2@PLANTED@db/dwh", "postgresql://u:***@db/dwh"),
        # user:pw@ without a scheme, or with a mistyped one
        ("postgres//r:hunter2-PLANTED@db/x", "postgres//r:***@db/x"),
        ("r:hunter2-PLANTED@db:5432/x", "r:***@db:5432/x"),
        # ?password= and ?sslpassword= (libpq URI parameters)
        (
            "postgresql://reader@db/dwh?password=hunter2-PLANTED",
            "postgresql://reader@db/dwh?password=***",
        ),
        (
            "postgresql://db/dwh?sslmode=require&sslpassword=hunter2-PLANTED&connect_timeout=3",
            "postgresql://db/dwh?sslmode=require&sslpassword=***&connect_timeout=3",
        ),
        # other secret-like query parameters
        ("https://h/x?token=hunter2-PLANTED&page=2", "https://h/x?token=***&page=2"),
        ("https://h/x?api_key=hunter2-PLANTED", "https://h/x?api_key=***"),
        ("https://h/x?apikey=hunter2-PLANTED", "https://h/x?apikey=***"),
        ("https://h/x?pass=hunter2-PLANTED", "https://h/x?pass=***"),
        ("https://h/x?client_secret=hunter2-PLANTED", "https://h/x?client_secret=***"),
        ("https://h/x?key=hunter2-PLANTED", "https://h/x?key=***"),
        # Redis
        ("redis://:hunter2-PLANTED@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://default:hunter2-PLANTED@cache:6379/0", "redis://default:***@cache:6379/0"),
        ("rediss://default:hunter2%40PLANTED@cache", "rediss://default:***@cache"),
        ("redis://cache:6379/0?password=hunter2-PLANTED", "redis://cache:6379/0?password=***"),
        # S3 keys in URLs and query strings
        (
            "s3://bkt/p?aws_access_key_id=AKIAPLANTED&aws_secret_access_key=hunter2-PLANTED",
            "s3://bkt/p?aws_access_key_id=***&aws_secret_access_key=***",
        ),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAPLANTED&X-Amz-Signature=hunter2",
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        ("s3://AKIAPLANTED:hunter2-PLANTED@bkt/p", "s3://AKIAPLANTED:***@bkt/p"),
        # S3 options as keyword arguments and mappings
        (
            "S3FileSystem(key='AKIAPLANTED', secret='hunter2')",
            "S3FileSystem(key='***', secret='***')",
        ),
        (
            "{'key': 'AKIAPLANTED', 'secret': 'hunter2', 'endpoint_url': 'http://s3:9000'}",
            "{'key': '***', 'secret': '***', 'endpoint_url': 'http://s3:9000'}",
        ),
        ('{"password": "hunter2-PLANTED"}', '{"password": "***"}'),
        # libpq key-value DSNs, plain and quoted
        (
            "host=db port=5432 password=hunter2-PLANTED user=r",
            "host=db port=5432 password=*** user=r",
        ),
        ("host=db password = 'hun ter\\'2 PLANTED' dbname=x", "host=db password = '***' dbname=x"),
        ("dbname=x sslpassword=hunter2-PLANTED", "dbname=x sslpassword=***"),
        ("AWS_SECRET_ACCESS_KEY=hunter2-PLANTED", "AWS_SECRET_ACCESS_KEY=***"),
    ],
)
def test_redact_masks_every_form(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert "hunter2" not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://reader@db:5432/dwh",
        "redis://cache:6379/0",
        "duckdb:///tmp/x.db",
        "s3://bucket/prefix",
        "mode 'merge' needs key=(...) naming the columns",
        "passed=3 failed=1",
        "Access denied for user 'root'@'localhost' (using password: YES)",
        "",
    ],
)
def test_redact_leaves_text_without_secrets_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_finds_urls_inside_messages() -> None:
    message = (
        "cannot connect to 'postgresql://r@db/x?password=hunter2-PLANTED': refused; "
        "leases use redis://:hunter2-PLANTED@cache:6379 and the DSN was "
        "host=db password=hunter2-PLANTED"
    )
    out = redact(message)
    assert "hunter2" not in out
    assert "postgresql://r@db/x?password=***" in out
    assert "redis://:***@cache:6379" in out


def test_redact_is_idempotent_and_accepts_objects() -> None:
    once = redact("redis://:pw@h?token=t host=h password=p")
    assert redact(once) == once
    assert redact(ValueError("mysql://u:hunter2@h/db")) == "mysql://u:***@h/db"


def test_redact_json_masks_strings_at_any_depth() -> None:
    from tasuki._redact import redact_json

    value = {"warehouse": "postgresql://r@h/db?password=hunter2", "n": 3, "l": ["redis://:pw@h"]}
    assert redact_json(value) == {
        "warehouse": "postgresql://r@h/db?password=***",
        "n": 3,
        "l": ["redis://:***@h"],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host=db password=hun,ter2 user=x", "host=db password=*** user=x"),
        ("connect(password=hunter2)", "connect(password=***)"),
        ("password=hunter2, host=x", "password=***, host=x"),
        ("Cfg(tokens_file='/etc/t.json', n=1)", "Cfg(tokens_file='/etc/t.json', n=1)"),
        # a DSN quoted inside another value or a repr
        ("'host=db password=hunter2'", "'host=db password=***'"),
        ('dsn="host=db password=hunter2"', 'dsn="host=db password=***"'),
        ("{'dsn': 'host=h password=hunter2'}", "{'dsn': 'host=h password=***'}"),
    ],
)
def test_redact_keeps_the_punctuation_around_a_value(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_service_config_repr_hides_warehouse_password_and_storage_keys() -> None:
    from tasuki.service import ServiceConfig

    config = ServiceConfig(
        warehouse="postgresql://r@h/db?password=hunter2",
        results_dir="/tmp/results",
        clients={"a": "b" * 64},
        storage_options={"key": "AKIA", "secret": "hunter2"},
    )
    shown = repr(config)
    assert "hunter2" not in shown and "AKIA" not in shown
    assert "postgresql://r@h/db?password=***" in shown
