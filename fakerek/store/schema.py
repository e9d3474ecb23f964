"""The database schema as an append-only list of migrations (`PRAGMA user_version` counts them).

Never edit a released migration: add one. Times are integer epoch milliseconds. A resource being
deleted keeps its row, with `gone_ms` saying when it disappears, so that status is computed from
stored times on every read and survives restarts (see `lifecycle`).
"""

MIGRATIONS: list[list[str]] = [
    # 1: projects, tags, project policies
    [
        "CREATE TABLE clock (last_ms INTEGER NOT NULL)",
        "INSERT INTO clock VALUES (0)",
        """CREATE TABLE projects (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            arn TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            feature TEXT NOT NULL,
            auto_update TEXT,
            deleting_ms INTEGER,
            gone_ms INTEGER,
            UNIQUE (account, region, name)
        )""",
        "CREATE INDEX projects_by_creation ON projects (account, region, created_ms)",
        "CREATE INDEX projects_gone ON projects (gone_ms) WHERE gone_ms IS NOT NULL",
        """CREATE TABLE tags (
            arn TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (arn, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE project_policies (
            project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            revision TEXT NOT NULL,
            document TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            PRIMARY KEY (project_id, name)
        )""",
    ],
    # 2: the index of the embedded S3 (object bytes live in content-addressed files)
    [
        """CREATE TABLE s3_buckets (
            name TEXT PRIMARY KEY,
            region TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        )""",
        """CREATE TABLE s3_objects (
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            blob TEXT NOT NULL,
            size INTEGER NOT NULL,
            etag TEXT NOT NULL,
            metadata TEXT NOT NULL,
            PRIMARY KEY (bucket, key)
        )""",
        "CREATE INDEX s3_objects_by_blob ON s3_objects (blob)",
    ],
]

# Tables emptied by a reset; the clock is kept so that ARNs stay unique across resets.
TABLES = ["tags", "project_policies", "projects", "s3_objects", "s3_buckets"]
