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
    # 3: datasets and their entries
    [
        """CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            arn TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            phase TEXT NOT NULL,
            outcome TEXT,
            ready_ms INTEGER NOT NULL,
            finished_ms INTEGER,
            previous_update_ms INTEGER NOT NULL,
            message TEXT,
            message_code TEXT,
            total INTEGER NOT NULL DEFAULT 0,
            labeled INTEGER NOT NULL DEFAULT 0,
            labels INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            previous_stats TEXT NOT NULL DEFAULT '[0, 0, 0, 0]',
            deleting_ms INTEGER,
            gone_ms INTEGER,
            UNIQUE (project_id, type)
        )""",
        "CREATE INDEX datasets_gone ON datasets (gone_ms) WHERE gone_ms IS NOT NULL",
        """CREATE TABLE dataset_entries (
            dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            source_ref TEXT NOT NULL,
            entry TEXT NOT NULL,
            is_labeled INTEGER NOT NULL,
            has_errors INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, position)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX dataset_entries_by_ref ON dataset_entries (dataset_id, source_ref)",
        """CREATE TABLE dataset_labels (
            dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            position INTEGER NOT NULL,
            on_box INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, label, position)
        ) WITHOUT ROWID""",
        "CREATE INDEX dataset_labels_by_position ON dataset_labels (dataset_id, position)",
    ],
    # 4: project versions (models)
    [
        """CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            arn TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            phase TEXT NOT NULL,
            outcome TEXT,
            ready_ms INTEGER NOT NULL,
            finished_ms INTEGER,
            message TEXT,
            training_end_ms INTEGER,
            request TEXT NOT NULL,
            results TEXT NOT NULL DEFAULT '{}',
            min_units INTEGER,
            max_units INTEGER,
            deleting_ms INTEGER,
            gone_ms INTEGER,
            UNIQUE (project_id, name)
        )""",
        "CREATE INDEX versions_gone ON versions (gone_ms) WHERE gone_ms IS NOT NULL",
    ],
    # 5: every version of an embedded S3 object, delete markers included, with its tags and
    #    modification time; a bucket's versioning state
    [
        """CREATE TABLE s3_versions (
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            position INTEGER NOT NULL,  -- 0 for the oldest version of the key
            version_id TEXT NOT NULL,
            deleted INTEGER NOT NULL,  -- a delete marker: no blob, size, etag or metadata
            blob TEXT,
            size INTEGER,
            etag TEXT,
            metadata TEXT,
            tags TEXT NOT NULL DEFAULT '{}',
            modified_ms INTEGER NOT NULL,
            PRIMARY KEY (bucket, key, position)
        ) WITHOUT ROWID""",
        "CREATE INDEX s3_versions_by_blob ON s3_versions (blob) WHERE blob IS NOT NULL",
        """INSERT INTO s3_versions (bucket, key, position, version_id, deleted, blob, size, etag,
                                    metadata, modified_ms)
           SELECT bucket, key, 0, 'null', 0, blob, size, etag, metadata,
                  CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM s3_objects""",
        "DROP TABLE s3_objects",
        "ALTER TABLE s3_buckets ADD COLUMN versioning TEXT",
    ],
    # 6: the account that owns each bucket of the embedded S3 (NULL: the server's default
    #    account, which owns the buckets created before accounts were kept)
    [
        "ALTER TABLE s3_buckets ADD COLUMN owner TEXT",
    ],
    # 7: adapters (versions of CONTENT_MODERATION projects): the base model each was trained on
    #    and, once a newer one is released, when it was deprecated and when it expires; the base
    #    moderation models released through the control API (none: the shipped version)
    [
        """CREATE TABLE IF NOT EXISTS adapters (
            version_id INTEGER PRIMARY KEY REFERENCES versions (id) ON DELETE CASCADE,
            base_model TEXT NOT NULL,
            deprecated_ms INTEGER,
            expires_ms INTEGER
        )""",
        """CREATE TABLE IF NOT EXISTS base_models (
            position INTEGER PRIMARY KEY,
            version TEXT NOT NULL UNIQUE,
            released_ms INTEGER NOT NULL,
            grace_ms INTEGER NOT NULL
        )""",
    ],
]

# Tables emptied by a reset; the clock is kept so that ARNs stay unique across resets.
TABLES = [
    "adapters",
    "base_models",
    "tags",
    "dataset_labels",
    "dataset_entries",
    "datasets",
    "versions",
    "project_policies",
    "projects",
    "s3_versions",
    "s3_buckets",
]
