-- Cards (issue #6): a unit of software work, the stage it is in, the lease of the supervisor replica working on it,
-- and the attempts of its developer agents. Every step is written here before it is acted on, so a restarted service
-- resumes each card from these rows.

CREATE TABLE cards (
    id               text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{4,32}$'),
    title            text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    description      text NOT NULL DEFAULT '',
    -- Absolute path on the server, symlinks resolved when the card was created.
    workspace        text NOT NULL,
    workspace_kind   text NOT NULL CHECK (workspace_kind IN ('folder', 'git', 'git-bare')),
    test_command     text NOT NULL CHECK (length(btrim(test_command)) > 0),
    -- NULL: the card is bounded by Artemis:Budget:PerCardUsd; otherwise by this (never above it, checked on create).
    budget_usd       numeric(20, 10) NULL CHECK (budget_usd > 0),
    stage            text NOT NULL DEFAULT 'Queued'
                     CHECK (stage IN ('Queued', 'Planning', 'Developing', 'Arbitrating', 'Done', 'Failed', 'Cancelled')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    stage_changed_at timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz NULL,
    -- The supervisor replica that holds the card and until when; a lapsed lease lets another replica claim it.
    -- The generation grows with every claim, so a replica whose lease was taken over can tell (fencing token).
    lease_owner      text NULL,
    lease_expires_at timestamptz NULL,
    lease_generation bigint NOT NULL DEFAULT 0,
    plan             text NULL,
    winner_attempt   integer NULL,
    -- Why the winner won, or why the card failed or was cancelled: for people.
    result_reason    text NULL,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
    CHECK ((stage IN ('Done', 'Failed', 'Cancelled')) = (finished_at IS NOT NULL))
);
CREATE INDEX cards_stage ON cards (stage, created_at);
-- What the supervisor scans for work: unfinished cards whose lease is free or lapsed.
CREATE INDEX cards_claimable ON cards (lease_expires_at NULLS FIRST, created_at)
    WHERE stage IN ('Queued', 'Planning', 'Developing', 'Arbitrating');

-- One row per developer agent's attempt at a card; the arbiter fills in the tests, the diff and the verdict.
CREATE TABLE attempts (
    card_id         text NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
    attempt         integer NOT NULL CHECK (attempt >= 1),
    agent           text NOT NULL,
    status          text NOT NULL DEFAULT 'Pending'
                    CHECK (status IN ('Pending', 'Running', 'Finished', 'Failed', 'Stopped')),
    turns           integer NOT NULL DEFAULT 0 CHECK (turns >= 0),
    retries         integer NOT NULL DEFAULT 0 CHECK (retries >= 0),
    cost_usd        numeric(20, 10) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    diff            text NULL,
    diff_lines      integer NULL CHECK (diff_lines >= 0),
    -- An attempt that touched tests or test infrastructure is flagged, whatever its tests say.
    edits_tests     boolean NOT NULL DEFAULT false,
    tests_passed    boolean NULL,
    tests_failed    integer NULL CHECK (tests_failed >= 0),
    test_exit_code  integer NULL,
    test_output     text NULL,
    error           text NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz NULL,
    finished_at     timestamptz NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (card_id, attempt)
);

ALTER TABLE cards ADD CONSTRAINT cards_winner_attempt
    FOREIGN KEY (id, winner_attempt) REFERENCES attempts (card_id, attempt);

