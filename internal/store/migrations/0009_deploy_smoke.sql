-- The smoke tests a deploy ran in its verify stage: a JSON object (berth.SmokeRun: the
-- revision whose checks ran, each check's result, time and excerpt), '' when none ran.
-- Excerpts have secret values redacted before they are stored.

ALTER TABLE deploys ADD COLUMN smoke TEXT NOT NULL DEFAULT '';
