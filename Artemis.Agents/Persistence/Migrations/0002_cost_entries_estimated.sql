-- A call whose usage the model did not report (or reported malformed) is charged its worst case, and marked so.
ALTER TABLE cost_entries ADD COLUMN estimated boolean NOT NULL DEFAULT false;
