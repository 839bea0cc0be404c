-- Artemis schema, version 1. Scripts are applied once each, in name order, and never edited once released:
-- change the schema by adding the next script.

-- Every event the app publishes (stage changes, agent messages, tool calls, costs, alerts), in order.
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    card_id     text NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_card_id ON events (card_id, id) WHERE card_id IS NOT NULL;

-- The cost ledger: one row per priced model call, keyed by call id so that settling twice is impossible.
-- Append-only; the source of truth from which the Redis budget counters are rebuilt.
CREATE TABLE cost_entries (
    call_id             text PRIMARY KEY,
    occurred_at         timestamptz NOT NULL DEFAULT now(),
    model               text NOT NULL,
    card_id             text NULL,
    stage               text NULL,
    agent               text NULL,
    input_tokens        bigint NOT NULL CHECK (input_tokens >= 0),
    cached_input_tokens bigint NOT NULL DEFAULT 0 CHECK (cached_input_tokens >= 0),
    output_tokens       bigint NOT NULL CHECK (output_tokens >= 0),
    audio_input_tokens  bigint NOT NULL DEFAULT 0 CHECK (audio_input_tokens >= 0),
    audio_output_tokens bigint NOT NULL DEFAULT 0 CHECK (audio_output_tokens >= 0),
    cost_usd            numeric(20, 10) NOT NULL CHECK (cost_usd >= 0)
);
CREATE INDEX cost_entries_occurred_at ON cost_entries (occurred_at);
