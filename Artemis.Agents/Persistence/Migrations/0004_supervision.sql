-- Supervision (issue #6): what the supervisor needs to resume a card where it was and to report on its work.

-- Interventions: times the supervisor stepped into an attempt (a nudge after a repeated tool call, a stop for time).
ALTER TABLE attempts ADD COLUMN interventions integer NOT NULL DEFAULT 0 CHECK (interventions >= 0);
-- Why an attempt stopped or how it ended, for people ("stopped: no result after 900 s").
ALTER TABLE attempts ADD COLUMN outcome text NULL;
-- How many runs of the acceptance tests the arbiter made (a pass is run twice before it is trusted).
ALTER TABLE attempts ADD COLUMN test_runs integer NOT NULL DEFAULT 0 CHECK (test_runs >= 0);

-- A short lesson per finished card, searched by Postgres full-text search when later cards are planned.
CREATE TABLE lessons (
    card_id    text PRIMARY KEY REFERENCES cards (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    outcome    text NOT NULL CHECK (outcome IN ('Done', 'Failed')),
    lesson     text NOT NULL CHECK (length(lesson) BETWEEN 1 AND 4000),
    search     tsvector GENERATED ALWAYS AS (to_tsvector('english', lesson)) STORED
);
CREATE INDEX lessons_search ON lessons USING gin (search);
